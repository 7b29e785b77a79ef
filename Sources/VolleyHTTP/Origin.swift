/// The origin (scheme, host, port) of a URL, the key the pool and the gate share.
struct Origin: Hashable {
    var key: String
    var isTLS: Bool

    /// Parses `url` without Foundation: `scheme://[userinfo@]host[:port][/...]`.
    /// Returns nil for anything that is not an absolute http(s) URL.
    init?(url: String) {
        guard let schemeEnd = url.firstRange(of: "://") else { return nil }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        var authority = url[schemeEnd.upperBound...]
        if let end = authority.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) {
            authority = authority[..<end]
        }
        if let at = authority.lastIndex(of: "@") {
            authority = authority[authority.index(after: at)...]
        }
        guard !authority.isEmpty else { return nil }
        var host = Substring(authority)
        var port = scheme == "https" ? "443" : "80"
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            host = authority[..<colon]
            let digits = authority[authority.index(after: colon)...]
            if !digits.isEmpty { port = String(digits) }
        }
        guard !host.isEmpty else { return nil }
        self.key = "\(scheme)://\(host.lowercased()):\(port)"
        self.isTLS = scheme == "https"
    }
}
