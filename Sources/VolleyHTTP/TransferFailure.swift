import CCurl

/// A failed transfer as plain facts: libcurl's result code, the limits the transfer ran
/// under and how far it got. `kind` maps them to the error kind a caller switches on; it is a
/// pure function of these values (no handle, no sockets, no message text), so every mapping
/// is unit-tested (`TransferFailureTests`).
struct TransferFailure: Sendable, Hashable {
    /// What libcurl ended the transfer with (not `CURLE_OK`).
    var code: CURLcode
    /// The body outgrew `maxResponseBytes` and the write callback aborted the transfer.
    var exceededMaxResponseBytes = false
    /// The whole-transfer limit set on the handle (`CURLOPT_TIMEOUT_MS`), in seconds; nil
    /// when none was set.
    var timeoutSeconds: Double?
    /// The low-speed window set on the handle (`CURLOPT_LOW_SPEED_TIME`), in seconds; nil
    /// when stall detection was off.
    var stallSeconds: Int?
    /// Seconds from the start until the transfer got past connect + TLS
    /// (`CURLINFO_PRETRANSFER_TIME_T`); 0 when it never did. Read for timeouts and lost
    /// connections only.
    var preTransferSeconds: Double = 0
    /// Seconds from the start until libcurl gave up (`CURLINFO_TOTAL_TIME_T`).
    var totalSeconds: Double = 0
    /// The transfer ran on a pooled connection (`CURLINFO_NUM_CONNECTS` 0).
    var reusedConnection = false
    /// A response status line had arrived.
    var responseStarted = false
    /// libcurl had sent the whole request body (`CURLINFO_SIZE_UPLOAD_T`); true for a
    /// request without one. Read for HTTP/2 stream failures only.
    var requestFullySent = true

    /// The error for these facts with libcurl's (or our) `message`.
    func error(_ message: String) -> HTTPClientError {
        HTTPClientError(kind, message, curlCode: Int(code.rawValue), staleConnection: isStaleConnection,
                        requestNotSent: isUnsentRequest)
    }

    /// The server ended this request's HTTP/2 stream while libcurl was still sending its body,
    /// and nothing of a response had reached us: the server answered (or refused) without the
    /// whole request, so it cannot have run the call, and sending it again is safe, POST
    /// included. A server may answer in full before it has read the request (RFC 9113 §8.1: a
    /// gateway's 429 or 401, nginx's `return`) and end the stream; libcurl 7.88 then fails
    /// the transfer with `CURLE_HTTP2_STREAM` ("stream N closed") when it goes on to send the
    /// body, and the answer it had buffered for the stream is lost. Seen on 0.3-6% of calls
    /// over HTTP/2 to such a server (bench W5, nginx `return 200`). When the answer did arrive
    /// whole, `Transfer.hasCompleteResponse` keeps it instead.
    var isUnsentRequest: Bool {
        code == CURLE_HTTP2_STREAM && !responseStarted && !requestFullySent
    }

    /// Longest time after the connection was ready that a failure still counts as a stale
    /// socket's, in seconds: a server's reset of a connection it had closed comes back within
    /// one round trip; a connection that dies later died while the server worked on the call.
    static let staleWindowSeconds = 1.0

    /// The connection broke (`connectionLost`, not a single HTTP/2 stream's reset) on a reused
    /// keep-alive connection, before any status line and within `staleWindowSeconds`: the
    /// signature of a stale pooled socket, one the server (or a load balancer, NAT or proxy on
    /// the way) closed while it sat idle, the close racing the request or unseen when libcurl
    /// checked the connection before reusing it. Such a request is safe to send again on a new
    /// connection, POST included: whoever closed an idle connection was reading no request on
    /// it, so this one never reached the model. Not stale, because the server may have run the
    /// call: a failure after a status line, one on a connection the request opened itself,
    /// and one that came later than a round trip would take.
    var isStaleConnection: Bool {
        kind == .connectionLost && code != CURLE_HTTP2_STREAM && reusedConnection && !responseStarted
            && totalSeconds - preTransferSeconds < Self.staleWindowSeconds
    }

    /// The error kind for these facts.
    var kind: HTTPClientError.Kind {
        if exceededMaxResponseBytes { return .responseTooLarge }
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return timeoutKind
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT:
            return .connectionFailed
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
             CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE,
             CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED,
             CURLE_USE_SSL_FAILED:
            return .tls
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE,
             CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_WEIRD_SERVER_REPLY, CURLE_BAD_CONTENT_ENCODING:
            return .connectionLost
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT:
            return .invalidRequest
        default:
            return .other
        }
    }

    /// libcurl reports the connect, total and low-speed timeouts with one code; the timings
    /// tell them apart. libcurl checks the total limit before anything else, so a transfer
    /// that ran its whole limit timed out, whatever else was due. The low-speed check runs
    /// only once the request is being sent or received (past pre-transfer) and only after its
    /// window has passed; a transfer that never got that far hit the connect timeout.
    private var timeoutKind: HTTPClientError.Kind {
        // The timings are whole microseconds: allow for rounding at the limit.
        if let timeoutSeconds, totalSeconds >= timeoutSeconds * 0.999 { return .timeout }
        if preTransferSeconds == 0 { return .connectTimeout }
        if let stallSeconds, totalSeconds >= Double(stallSeconds) * 0.999 { return .stalled }
        return .timeout
    }
}
