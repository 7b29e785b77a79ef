/// Where shared limits live: `redis://[[user]:password@]host[:port][/db]`, the form redis-cli and
/// the client libraries take. The password may instead come from an environment variable.
///
/// `rediss://` (TLS) is refused: Debian 12's hiredis (0.14) has no TLS, and Volley never sends a
/// password or limits in plain text to a server it was told to reach over TLS. Reach a TLS-only
/// Redis through a local TLS tunnel (stunnel, or `ssh -L`) and point `redis://127.0.0.1:PORT` at it.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: Int
    public var user: String?
    public var password: String?

    public init(_ text: String, passwordFromEnvironment: String? = nil) throws(RedisError) {
        let lower = text.lowercased()
        if lower.hasPrefix("rediss://") {
            throw RedisError(.configuration, "rediss:// (Redis over TLS) is not supported: this build's hiredis (0.14) has no TLS, and the connection is never downgraded to plain text. Reach the server through a local TLS tunnel (e.g. stunnel or ssh -L) and use redis://127.0.0.1:PORT")
        }
        guard lower.hasPrefix("redis://") else {
            throw RedisError(.configuration, "a Redis URL starts with redis:// (redis://host:6379/0)")
        }
        var rest = Substring(text.dropFirst("redis://".count))
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else {
                    throw RedisError(.configuration, "the Redis URL's database must be a number (redis://host:6379/0)")
                }
                database = number
            }
        }
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let name = String(credentials[..<colon])
                user = name.isEmpty ? nil : Self.decoded(name)
                password = Self.decoded(String(credentials[credentials.index(after: colon)...]))
            } else if !credentials.isEmpty {
                // redis://user@host: a user without a password (as redis-py reads it).
                user = Self.decoded(String(credentials))
            }
        }
        if let fromEnvironment = passwordFromEnvironment, !fromEnvironment.isEmpty { password = fromEnvironment }
        var host = String(rest)
        var port = 6379
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let number = Int(after.dropFirst()), (1...65535).contains(number) else {
                    throw RedisError(.configuration, "the Redis URL's port must be 1 to 65535")
                }
                port = number
            }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let number = Int(host[host.index(after: colon)...]), (1...65535).contains(number) else {
                throw RedisError(.configuration, "the Redis URL's port must be 1 to 65535")
            }
            port = number
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw RedisError(.configuration, "the Redis URL names no host") }
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
    }

    /// `redis://[user@]host:port/db`, the password shown as `***` if there is one: safe to log.
    public var description: String {
        let credentials = password == nil ? (user.map { "\($0)@" } ?? "") : "\(user ?? ""):***@"
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "redis://\(credentials)\(shownHost):\(port)/\(database)"
    }

    /// Percent-decoding of the user and password parts (a password may hold `@` or `:` as %40, %3A).
    private static func decoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%"), let high = iterator.next() else {
                bytes.append(byte)
                continue
            }
            guard let low = iterator.next() else {
                bytes += [byte, high]
                continue
            }
            if let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes += [byte, high, low]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
