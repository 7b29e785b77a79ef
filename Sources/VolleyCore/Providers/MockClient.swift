/// The built-in provider: no network. Replies deterministically after a latency, and fails
/// on request, so every feature can be tried and tested without a key.
///
/// Scripting, per item, through a `"mock"` object in the request body:
/// - `latency_ms`: milliseconds before the reply (default: the provider's `latency_ms`, 50).
/// - `reply`: the exact text (default: `"Mock reply to: "` + the last user message).
/// - `fail`: an error kind to fail with (`rate_limited`, `overloaded`, `http`, `timeout`,
///   `connection`, `provider_error`, `quota_exceeded`, `too_large`, `invalid_request`).
/// - `fail_attempts`: how many attempts fail before one succeeds (default: all of them).
/// - `status`: the HTTP status reported with the failure; `retry_after`: seconds.
/// - Streamed (`item.stream`): the reply in pieces of up to 4 characters, `chunk_delay_ms`
///   apart; with `fail_after_chunks`, the scripted failure comes after that many pieces.
///
/// Like a real API it refuses what a provider would (`MockClient+Validation.swift`): a script
/// field it does not know or of the wrong type, and a body without a valid `messages` list.
final class MockClient: ProviderClient {
    let config: ProviderConfig
    /// The engine's clock: the mock's latency passes in the engine's (maybe virtual) time.
    private let clock: any EngineClock

    init(config: ProviderConfig, clock: any EngineClock) {
        self.config = config
        self.clock = clock
    }

    func attempt(_ item: Item, attempt: Int, timeoutSeconds: Double?) async -> Attempt {
        // Refused at once, as a real API refuses a malformed body with 400 before any work.
        if let problem = Self.invalidRequest(item) {
            return Attempt(.failure(ItemError(.invalidRequest, "mock: \(problem)", status: 400)))
        }
        let script = item.request["mock"]
        let latencyMs = script?["latency_ms"]?.doubleValue ?? config.mockLatencyMs
        let sleepMs = min(latencyMs, (timeoutSeconds ?? .infinity) * 1000)
        if sleepMs > 0 {
            do {
                try await clock.sleep(until: clock.now() + sleepMs / 1000)
            } catch {
                return Attempt(.failure(ItemError(.cancelled, "cancelled")))
            }
        }
        if sleepMs < latencyMs {
            return Attempt(.failure(ItemError(.timeout, "the mock reply takes \(latencyMs) ms, longer than the time left", retryable: false)))
        }
        if let failure = Self.scriptedFailure(script, attempt: attempt) {
            return Attempt(.failure(failure))
        }
        switch item.endpoint {
        case .chat, .messages: return Attempt(.success(Self.reply(to: item, script: script)))
        case .embeddings: return Attempt(.success(Self.embeddings(item)))
        case .responses, .completions:
            var value = Self.reply(to: item, script: script)
            if item.endpoint == .responses {
                var members = RawMembers([])
                members.append("id", .string("resp_mock_\(attempt)"))
                value.members = members
            }
            return Attempt(.success(value))
        case .raw(let path):
            var members = RawMembers([])
            members.append("status", .number(200))
            members.append("body", ["mock": true, "path": .string(path), "request": .object(item.request)])
            var value = ItemValue(text: nil, finishReason: nil, model: nil, usage: nil)
            value.members = members
            return Attempt(.success(value))
        }
    }

    /// Deterministic unit vectors (the same text always gives the same one), `dimensions`
    /// long (default 1,536), base64 float32 unless the body asks for `float`.
    static func embeddings(_ item: Item) -> ItemValue {
        let inputs: [String]
        switch item.request["input"] {
        case .string(let text)?: inputs = [text]
        case .array(let list)?: inputs = list.map { $0.stringValue ?? $0.jsonString }
        default: inputs = []
        }
        let dimensions = min(max(item.request["dimensions"]?.intValue ?? 1_536, 1), 3_072)
        let base64 = item.request["encoding_format"]?.stringValue != "float"
        var list: [UInt8] = [UInt8(ascii: "[")]
        for (position, text) in inputs.enumerated() {
            if position > 0 { list.append(UInt8(ascii: ",")) }
            let vector = mockVector(text, dimensions: dimensions)
            if base64 {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(dimensions * 4)
                for number in vector { withUnsafeBytes(of: number.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
                JSONWriter.writeString(Base64.encode(bytes), into: &list)
            } else {
                JSONValue.array(vector.map { .number(JSONNumber(Double($0)) ?? 0) }).write(into: &list)
            }
        }
        list.append(UInt8(ascii: "]"))
        var members = RawMembers([])
        members.append("embeddings", json: list)
        members.append("encoding", .string(base64 ? "base64" : "float"))
        members.append("dimensions", .number(JSONNumber(dimensions)))
        let characters = inputs.reduce(0) { $0 + $1.count }
        var value = ItemValue(text: nil, finishReason: nil, model: item.model ?? "mock", usage: Usage(inputTokens: (characters + 3) / 4, outputTokens: 0))
        value.members = members
        return value
    }

    /// A unit vector from `text`'s FNV-1a hash and an xorshift generator.
    static func mockVector(_ text: String, dimensions: Int) -> [Float] {
        var state: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { state = (state ^ UInt64(byte)) &* 0x100_0000_01b3 }
        if state == 0 { state = 1 }
        var vector = [Float](repeating: 0, count: dimensions)
        var norm: Float = 0
        for index in 0..<dimensions {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            let number = Float(Int64(bitPattern: state) % 1_000_000) / 1_000_000
            vector[index] = number
            norm += number * number
        }
        let scale = norm > 0 ? 1 / norm.squareRoot() : 1
        return vector.map { $0 * scale }
    }

    func streamAttempt(_ item: Item, attempt: Int, timeoutSeconds: Double?,
                       onDelta: @escaping @Sendable (StreamDelta) -> Void) async -> Attempt {
        if let problem = Self.invalidRequest(item) {
            return Attempt(.failure(ItemError(.invalidRequest, "mock: \(problem)", status: 400)))
        }
        let script = item.request["mock"]
        let deadline = timeoutSeconds.map { clock.now() + $0 }
        if let failure = await pause(script?["latency_ms"]?.doubleValue ?? config.mockLatencyMs, until: deadline) {
            return Attempt(.failure(failure))
        }
        let failure = Self.scriptedFailure(script, attempt: attempt)
        let failAfter = script?["fail_after_chunks"]?.intValue
        if let failure, failAfter == nil { return Attempt(.failure(failure)) }
        let value = Self.reply(to: item, script: script)
        let chunkDelayMs = script?["chunk_delay_ms"]?.doubleValue ?? 0
        var sent = 0
        for chunk in Self.pieces(of: value.text ?? "") {
            if let failure, let failAfter, sent >= failAfter { return Attempt(.failure(failure)) }
            if sent > 0, let failure = await pause(chunkDelayMs, until: deadline) { return Attempt(.failure(failure)) }
            if Task.isCancelled { return Attempt(.failure(ItemError(.cancelled, "cancelled"))) }
            onDelta(StreamDelta(text: chunk))
            sent += 1
        }
        // Fewer pieces than `fail_after_chunks`: the stream is cut at its end.
        if let failure { return Attempt(.failure(failure)) }
        return Attempt(.success(value))
    }

    /// The reply in pieces of up to 4 characters (about a token each).
    static func pieces(of text: String) -> [String] {
        var pieces: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            pieces.append(String(rest.prefix(4)))
            rest = rest.dropFirst(4)
        }
        return pieces
    }

    /// Sleeps `ms` on the engine's clock; a timeout when it would pass `deadline`, cancelled
    /// when the task is.
    private func pause(_ ms: Double, until deadline: Double?) async -> ItemError? {
        guard ms > 0 else { return nil }
        let now = clock.now()
        if let deadline, now + ms / 1000 > deadline {
            try? await clock.sleep(until: deadline)
            return ItemError(.timeout, "the mock reply takes longer than the time left", retryable: false)
        }
        do {
            try await clock.sleep(until: now + ms / 1000)
            return nil
        } catch {
            return ItemError(.cancelled, "cancelled")
        }
    }

    static func scriptedFailure(_ script: JSONValue?, attempt: Int) -> ItemError? {
        guard let name = script?["fail"]?.stringValue else { return nil }
        if let failing = script?["fail_attempts"]?.intValue, attempt > failing { return nil }
        let status = script?["status"]?.intValue
        let retryAfter = script?["retry_after"]?.doubleValue
        let kind = ErrorKind(rawValue: name) ?? .http
        let defaultStatus: Int?
        let retryable: Bool
        switch kind {
        case .rateLimited: (defaultStatus, retryable) = (429, true)
        case .overloaded: (defaultStatus, retryable) = (529, true)
        case .http: (defaultStatus, retryable) = (500, (status ?? 500) >= 500)
        case .quotaExceeded: (defaultStatus, retryable) = (429, false)
        case .tooLarge: (defaultStatus, retryable) = (400, false)
        case .invalidRequest: (defaultStatus, retryable) = (400, false)
        case .timeout, .connection: (defaultStatus, retryable) = (nil, true)
        case .providerError: (defaultStatus, retryable) = (200, false)
        case .deadlineExceeded, .cancelled, .sharedLimitsUnavailable, .budgetExceeded: (defaultStatus, retryable) = (nil, false)
        }
        return ItemError(kind, "mock failure: \(kind.rawValue) (attempt \(attempt))",
                         status: status ?? defaultStatus, retryable: retryable, retryAfterSeconds: retryAfter)
    }

    static func reply(to item: Item, script: JSONValue?) -> ItemValue {
        var messages = item.request["messages"]?.arrayValue ?? []
        // Responses and completions: their input or prompt is the user's turn.
        if messages.isEmpty {
            // Responses: the last input item is the user's turn; completions: `choices[0]` answers the first prompt.
            var text = ""
            if let input = item.request["input"] {
                text = input.stringValue ?? input.arrayValue?.last.flatMap { $0.stringValue ?? OpenAIClient.text(of: $0["content"]) } ?? ""
            } else if let prompt = item.request["prompt"] {
                text = prompt.stringValue ?? prompt.arrayValue?.first?.stringValue ?? ""
            }
            messages = [["role": "user", "content": .string(text)]]
        }
        let lastUser = messages.last { $0["role"]?.stringValue == "user" }
        let prompt = lastUser.flatMap { OpenAIClient.text(of: $0["content"]) } ?? ""
        let text = script?["reply"]?.stringValue ?? "Mock reply to: \(prompt.prefix(200))"
        let promptChars = messages.reduce(0) { $0 + (OpenAIClient.text(of: $1["content"])?.count ?? 0) }
        let usage = Usage(inputTokens: (promptChars + 3) / 4, outputTokens: (text.count + 3) / 4)
        var raw: JSONValue?
        if item.includeRaw {
            raw = .object(["mock": true, "text": .string(text)])
        }
        return ItemValue(text: text, finishReason: "stop", model: item.model ?? "mock", usage: usage, raw: raw)
    }
}
