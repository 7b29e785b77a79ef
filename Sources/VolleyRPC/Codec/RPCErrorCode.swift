/// Every JSON-RPC error code the server sends (the table in the protocol's "Error codes").
public enum RPCErrorCode: Int, Sendable, Hashable, CaseIterable {
    /// -32700: the line is not valid JSON or not valid UTF-8; the reply's id is `null`.
    case parseError = -32700
    /// -32600: not a valid Request object, or a request after `shutdown`.
    case invalidRequest = -32600
    /// -32601: unknown method.
    case methodNotFound = -32601
    /// -32602: bad params (schema, unknown provider, unsupported version).
    case invalidParams = -32602
    /// -32603: internal error (a bug in the server).
    case internalError = -32603
    /// -32010: the line exceeded `max_line_bytes`; the reply's id is `null`.
    case lineTooLong = -32010
    /// -32011: too much work queued; `data.retry_after_ms` says when to try again.
    case overloaded = -32011
    /// -32012: a shared sidecar refused the connection (its peer runs as another user).
    case connectionRefused = -32012
    /// -32800: the request was cancelled; `data` holds what finished.
    case requestCancelled = -32800
    /// -32803: the request failed as a whole (`fail_fast`, `call`).
    case requestFailed = -32803
}
