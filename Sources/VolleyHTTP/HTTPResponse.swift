/// The status line and header fields of a response.
public struct HTTPResponseHead: Sendable, Hashable {
    public var status: Int
    /// Header fields, names lowercased.
    public var headers: HTTPHeaders
    public var version: HTTPVersion

    public init(status: Int, headers: HTTPHeaders, version: HTTPVersion) {
        self.status = status
        self.headers = headers
        self.version = version
    }
}

/// The HTTP version a transfer used.
public enum HTTPVersion: Sendable, Hashable {
    case http1_0, http1_1, http2, http3, unknown
}

/// What libcurl measured about one transfer.
public struct HTTPTransferInfo: Sendable, Hashable {
    /// True when the transfer ran on a connection that was already open (pooled or
    /// multiplexed); false when it opened a new one.
    public var connectionReused: Bool
    public var httpVersion: HTTPVersion
    /// Seconds from the start of the transfer until the TCP connect finished (0 when reused).
    public var connectSeconds: Double
    /// Seconds from the start until the first response byte arrived.
    public var timeToFirstByteSeconds: Double
    /// Seconds from the start until the transfer ended.
    public var totalSeconds: Double
    /// `Retry-After` as parsed by libcurl (delta seconds or HTTP date), when present.
    public var retryAfterSeconds: Int?

    public init(
        connectionReused: Bool,
        httpVersion: HTTPVersion,
        connectSeconds: Double,
        timeToFirstByteSeconds: Double,
        totalSeconds: Double,
        retryAfterSeconds: Int?
    ) {
        self.connectionReused = connectionReused
        self.httpVersion = httpVersion
        self.connectSeconds = connectSeconds
        self.timeToFirstByteSeconds = timeToFirstByteSeconds
        self.totalSeconds = totalSeconds
        self.retryAfterSeconds = retryAfterSeconds
    }
}

/// A complete, buffered response.
public struct HTTPResponse: Sendable {
    public var head: HTTPResponseHead
    public var body: [UInt8]
    public var info: HTTPTransferInfo

    public var status: Int { head.status }
    public var headers: HTTPHeaders { head.headers }

    public init(head: HTTPResponseHead, body: [UInt8], info: HTTPTransferInfo) {
        self.head = head
        self.body = body
        self.info = info
    }
}

/// One event of a streamed response, in order: `head` once, then `body` chunks or SSE
/// `event`s, then `end` once. Errors end the stream by throwing `HTTPClientError`.
public enum HTTPStreamEvent: Sendable {
    case head(HTTPResponseHead)
    /// Raw body bytes: every chunk when the stream was opened without SSE parsing, and
    /// the (error) body of a non-2xx response when it was opened with SSE parsing.
    case body([UInt8])
    /// One server-sent event of a 2xx response opened with SSE parsing.
    case event(SSEEvent)
    case end(HTTPTransferInfo)
}
