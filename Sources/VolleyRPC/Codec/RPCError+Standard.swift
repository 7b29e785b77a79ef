import VolleyJSON

extension RPCError {
    /// -32700 for a line ``JSONParser`` rejected; the message says whether the UTF-8 or the JSON
    /// was invalid, and where.
    public static func parseError(_ error: JSONParseError) -> RPCError {
        let what = error.kind == .invalidUTF8 ? error.message : "invalid JSON, \(error.message)"
        return RPCError(code: .parseError, message: "Parse error: \(what)")
    }

    /// -32600 with the reason the message is not a valid request.
    public static func invalidRequest(_ reason: String) -> RPCError {
        RPCError(code: .invalidRequest, message: "Invalid Request: \(reason)")
    }

    /// -32601 naming the unknown method.
    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(code: .methodNotFound, message: "Method not found: \(method)")
    }

    /// -32602 with the reason the params are wrong.
    public static func invalidParams(_ reason: String, data: JSONValue? = nil) -> RPCError {
        RPCError(code: .invalidParams, message: "Invalid params: \(reason)", data: data)
    }

    /// -32603: a bug in the server; the reason is for the host's logs.
    public static func internalError(_ reason: String) -> RPCError {
        RPCError(code: .internalError, message: "Internal error: \(reason)")
    }

    /// -32010 for a discarded line, with `data: {byte_count, max_line_bytes}`.
    public static func lineTooLong(byteCount: Int, maxLineBytes: Int) -> RPCError {
        RPCError(
            code: .lineTooLong,
            message: "Line too long: \(byteCount) bytes, the limit is \(maxLineBytes)",
            data: ["byte_count": JSONValue(byteCount), "max_line_bytes": JSONValue(maxLineBytes)]
        )
    }

    /// -32011 with `data: {retry_after_ms}`.
    public static func overloaded(retryAfterMs: Int) -> RPCError {
        RPCError(
            code: .overloaded,
            message: "Overloaded: too much work queued",
            data: ["retry_after_ms": JSONValue(retryAfterMs)]
        )
    }

    /// -32800; `data` holds what finished before the cancellation.
    public static func requestCancelled(data: JSONValue?) -> RPCError {
        RPCError(code: .requestCancelled, message: "Request cancelled", data: data)
    }

    /// -32803; `data` holds the failure (and for batches what finished).
    public static func requestFailed(_ reason: String, data: JSONValue?) -> RPCError {
        RPCError(code: .requestFailed, message: "Request failed: \(reason)", data: data)
    }
}
