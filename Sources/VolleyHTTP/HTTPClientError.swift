/// Why a transfer failed. Switch on `kind`; `message` is for humans (libcurl's text).
public struct HTTPClientError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// DNS + TCP connect + TLS handshake did not finish within `connectTimeoutSeconds`.
        case connectTimeout
        /// The whole transfer exceeded `timeoutSeconds`.
        case timeout
        /// Fewer bytes than the configured minimum arrived during `stallSeconds`.
        case stalled
        /// DNS failure, connection refused, or another failure to reach the server.
        case connectionFailed
        /// TLS handshake or certificate verification failed.
        case tls
        /// The connection broke during the transfer (reset, closed early, bad framing).
        case connectionLost
        /// A streamed body ended without its terminal event (e.g. no `data: [DONE]`).
        case streamTruncated
        /// A buffered body exceeded `HTTPClientConfiguration.maxResponseBytes`.
        case responseTooLarge
        /// The request could not be configured (bad URL, an option libcurl refused).
        case invalidRequest
        /// The task was cancelled; the transfer was aborted.
        case cancelled
        /// The client was shut down before the transfer finished.
        case shutdown
        /// Any other libcurl failure.
        case other
    }

    public var kind: Kind
    public var message: String
    /// The libcurl `CURLcode`, when the failure came from libcurl.
    public var curlCode: Int?
    /// The failure is a stale pooled socket's: the request is safe to send again on a new
    /// connection, POST included (the rule and why: `TransferFailure.isStaleConnection`).
    public var staleConnection: Bool
    /// The server ended the request's HTTP/2 stream before the request was sent in full and
    /// before any response reached us: it cannot have run the call, so the request is safe to
    /// send again, POST included (`TransferFailure.isUnsentRequest`).
    public var requestNotSent: Bool

    public init(_ kind: Kind, _ message: String, curlCode: Int? = nil, staleConnection: Bool = false,
                requestNotSent: Bool = false) {
        self.kind = kind
        self.message = message
        self.curlCode = curlCode
        self.staleConnection = staleConnection
        self.requestNotSent = requestNotSent
    }

    public var description: String {
        if let curlCode { return "\(kind): \(message) (curl \(curlCode))" }
        return "\(kind): \(message)"
    }
}
