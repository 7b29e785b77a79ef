/// One HTTP request for the transport.
///
/// Timeouts are measured from the moment the transfer is handed to libcurl, never while it
/// waits for admission in the transport's per-origin queue (cancel the task to bound that).
public struct HTTPRequest: Sendable {
    /// An absolute `http://` or `https://` URL.
    public var url: String
    /// The request method, e.g. `"GET"` or `"POST"`.
    public var method: String
    public var headers: HTTPHeaders
    /// The request body, sent with a `Content-Length`; `nil` sends none.
    public var body: [UInt8]?
    /// Limit for DNS + TCP connect + TLS handshake, in seconds.
    public var connectTimeoutSeconds: Double
    /// Limit for the whole transfer, in seconds; `nil` means no limit.
    public var timeoutSeconds: Double?
    /// Stalled-body detection: the transfer fails with `.stalled` when fewer than
    /// `stallMinimumBytesPerSecond` bytes arrive during `stallSeconds` whole seconds.
    /// `nil` (the default) turns it off: a non-streaming LLM response legitimately sends
    /// nothing until generation is done, so only enable it where bytes must keep flowing.
    /// libcurl averages the rate over the last few seconds, so with the default minimum of
    /// 1 byte/s a dead stream is noticed up to ~5 s after `stallSeconds`.
    public var stallSeconds: Int?
    public var stallMinimumBytesPerSecond: Int
    /// A PEM bundle of certificate authorities to trust instead of the system store.
    /// Verification is never turned off.
    public var caFile: String?
    /// Open a new connection for this request instead of reusing a pooled one
    /// (`CURLOPT_FRESH_CONNECT`): for resending a request whose pooled connection turned out
    /// stale (`HTTPClientError.staleConnection`). The new connection is pooled as usual.
    public var freshConnection = false

    public init(
        url: String,
        method: String = "GET",
        headers: HTTPHeaders = HTTPHeaders(),
        body: [UInt8]? = nil,
        connectTimeoutSeconds: Double = 10,
        timeoutSeconds: Double? = nil,
        stallSeconds: Int? = nil,
        stallMinimumBytesPerSecond: Int = 1,
        caFile: String? = nil
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.timeoutSeconds = timeoutSeconds
        self.stallSeconds = stallSeconds
        self.stallMinimumBytesPerSecond = stallMinimumBytesPerSecond
        self.caFile = caFile
    }
}
