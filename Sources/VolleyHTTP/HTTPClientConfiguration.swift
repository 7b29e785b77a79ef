/// Pool-wide settings of an `HTTPClient`.
public struct HTTPClientConfiguration: Sendable {
    /// Most connections open to one origin (scheme, host, port) at once. For HTTP/1.1 this
    /// is also the most transfers running to that origin; more wait in Swift, not in libcurl.
    public var maxConnectionsPerHost: Int
    /// Most connections open in total; 0 means no limit beyond the per-host one.
    public var maxTotalConnections: Int
    /// Most concurrent HTTP/2 streams on one connection.
    public var maxConcurrentStreams: Int
    /// How many idle connections the pool keeps for reuse.
    public var connectionCacheSize: Int
    /// Sent as `User-Agent` unless the request sets one.
    public var userAgent: String
    /// A buffered response body larger than this fails with `.responseTooLarge` instead of
    /// growing memory without bound.
    public var maxResponseBytes: Int

    public init(
        maxConnectionsPerHost: Int = 32,
        maxTotalConnections: Int = 0,
        maxConcurrentStreams: Int = 100,
        connectionCacheSize: Int? = nil,
        userAgent: String = "volley",
        maxResponseBytes: Int = 256 * 1024 * 1024
    ) {
        self.maxConnectionsPerHost = max(1, maxConnectionsPerHost)
        self.maxTotalConnections = max(0, maxTotalConnections)
        self.maxConcurrentStreams = max(1, maxConcurrentStreams)
        self.connectionCacheSize = connectionCacheSize ?? max(64, self.maxConnectionsPerHost * 4)
        self.userAgent = userAgent
        self.maxResponseBytes = max(1, maxResponseBytes)
    }
}
