extension ProviderConfig {
    /// The API origin of `baseURL`, `scheme://host:port`, lowercased, with the port made
    /// explicit (443 for https, 80 for http) and any user info and path dropped: so
    /// `https://API.openai.com/v1` and `https://api.openai.com:443/v1/` are one origin. A URL
    /// that is not `scheme://…` (the mock's `mock://` has no host) is returned as it is.
    var origin: String { Self.origin(of: baseURL) }

    static func origin(of url: String) -> String {
        guard let separator = url.firstRange(of: "://") else { return url }
        let scheme = url[..<separator.lowerBound].lowercased()
        var authority = url[separator.upperBound...]
        if let end = authority.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { authority = authority[..<end] }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var host = authority.lowercased()
        var port: String?
        // The port follows the last ':' outside an IPv6 literal (`[::1]:8080`).
        if let colon = host.lastIndex(of: ":"), !host[colon...].contains("]") {
            port = String(host[host.index(after: colon)...])
            host = String(host[..<colon])
        }
        if port?.isEmpty ?? true {
            port = scheme == "https" ? "443" : scheme == "http" ? "80" : nil
        }
        return port.map { "\(scheme)://\(host):\($0)" } ?? "\(scheme)://\(host)"
    }
}
