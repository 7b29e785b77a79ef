/// What happened to one item: exactly one per item of a batch.
public struct Outcome: Sendable {
    /// Position of the item in the batch's `requests`.
    public var index: Int
    /// The item's `key`, echoed.
    public var key: String?
    /// The provider that ran the item (nil when it never got one: a malformed item).
    public var provider: String?
    public var result: Result<ItemValue, ItemError>
    /// HTTP attempts made (0 when the item never started).
    public var attempts: Int
    /// Milliseconds from the first attempt's start to the end, retries and waits included.
    public var latencyMs: Double?
    /// Milliseconds the item waited before its first attempt started.
    public var queuedMs: Double?
    /// A streamed item: milliseconds from the start of the attempt that answered to its first delta.
    public var ttftMs: Double?
    /// A success's cost in dollars, from its usage and the model's price; nil when unknown.
    public var costUSD: Double?

    public init(index: Int, key: String?, provider: String? = nil, result: Result<ItemValue, ItemError>, attempts: Int,
                latencyMs: Double?, queuedMs: Double?) {
        self.index = index
        self.key = key
        self.provider = provider
        self.result = result
        self.attempts = attempts
        self.latencyMs = latencyMs
        self.queuedMs = queuedMs
    }

    public var isSuccess: Bool {
        if case .success = result { return true }
        return false
    }

    public var error: ItemError? {
        if case .failure(let error) = result { return error }
        return nil
    }

    /// The outcome object of the protocol.
    public var json: JSONObject {
        var object: JSONObject = ["index": .number(JSONNumber(index))]
        if let key { object["key"] = .string(key) }
        if let provider { object["provider"] = .string(provider) }
        switch result {
        case .success(let value):
            object["ok"] = true
            object["value"] = value.json
        case .failure(let error):
            object["ok"] = false
            object["error"] = error.json
        }
        object["attempts"] = .number(JSONNumber(attempts))
        if let latencyMs, let number = JSONNumber(Self.rounded(latencyMs)) { object["latency_ms"] = .number(number) }
        if let queuedMs, let number = JSONNumber(Self.rounded(queuedMs)) { object["queued_ms"] = .number(number) }
        if let ttftMs, let number = JSONNumber(Self.rounded(ttftMs)) { object["ttft_ms"] = .number(number) }
        if case .success = result { object["cost_usd"] = costUSD.flatMap { JSONNumber(Self.dollars($0)) }.map(JSONValue.number) ?? .null }
        return object
    }
}
