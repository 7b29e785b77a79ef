/// A failed item's error, as sent in its outcome.
public struct ItemError: Error, Sendable, Hashable {
    public var kind: ErrorKind
    /// A human-readable explanation. Never contains API keys.
    public var message: String
    /// The HTTP status, when the failure was an HTTP response.
    public var status: Int?
    /// Whether the failure was of a kind that is retried (it may still be final when the
    /// retries ran out).
    public var retryable: Bool
    /// The server's requested delay before a retry (from `retry-after-ms` / `retry-after`).
    public var retryAfterSeconds: Double?
    /// The provider's own error code (e.g. `context_length_exceeded`), when it sent one.
    public var providerCode: String?

    public init(
        _ kind: ErrorKind,
        _ message: String,
        status: Int? = nil,
        retryable: Bool = false,
        retryAfterSeconds: Double? = nil,
        providerCode: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retryAfterSeconds = retryAfterSeconds
        self.providerCode = providerCode
    }

    /// The outcome's `error` object.
    public var json: JSONValue {
        var object: JSONObject = ["kind": .string(kind.rawValue), "message": .string(message)]
        if let status { object["status"] = .number(JSONNumber(status)) }
        object["retryable"] = .bool(retryable)
        if let providerCode { object["code"] = .string(providerCode) }
        return .object(object)
    }
}
