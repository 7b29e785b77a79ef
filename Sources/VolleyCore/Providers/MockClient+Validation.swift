extension MockClient {
    /// The `mock` script's fields and what each must be.
    static let scriptFields: [(name: String, rule: String, isValid: @Sendable (JSONValue) -> Bool)] = [
        ("latency_ms", "a number of milliseconds, 0 or more", { ($0.doubleValue ?? -1) >= 0 }),
        ("reply", "a string", { $0.stringValue != nil }),
        ("fail", "one of \(failKinds.map(\.rawValue).joined(separator: ", "))",
         { $0.stringValue.flatMap(ErrorKind.init(rawValue:)).map(failKinds.contains) ?? false }),
        ("fail_attempts", "an integer, 0 or more", { ($0.intValue ?? -1) >= 0 }),
        ("status", "an HTTP status from 100 to 599", { (100...599).contains($0.intValue ?? 0) }),
        ("retry_after", "a number of seconds, 0 or more", { ($0.doubleValue ?? -1) >= 0 }),
        ("chunk_delay_ms", "a number of milliseconds, 0 or more", { ($0.doubleValue ?? -1) >= 0 }),
        ("fail_after_chunks", "an integer, 0 or more", { ($0.intValue ?? -1) >= 0 }),
    ]

    /// The kinds a script may fail with (not `cancelled` or `deadline_exceeded`, which are
    /// the engine's own).
    static let failKinds: [ErrorKind] = [
        .rateLimited, .overloaded, .http, .timeout, .connection, .providerError, .quotaExceeded, .tooLarge, .invalidRequest,
    ]

    static let roles: Set<String> = ["system", "developer", "user", "assistant", "tool"]

    /// What a real chat-completions API would refuse with 400 in this item, or in its script,
    /// so that a test passing on the mock does not fail on a provider; nil when it is fine.
    static func invalidRequest(_ item: Item) -> String? {
        if let script = item.request["mock"], !script.isNull {
            guard case .object(let fields) = script else { return "`mock` must be an object" }
            for (name, value) in fields {
                guard let field = scriptFields.first(where: { $0.name == name }) else {
                    return "unknown `mock` field `\(name)`; known: \(scriptFields.map(\.name).joined(separator: ", "))"
                }
                if !field.isValid(value) { return "`mock.\(name)` must be \(field.rule)" }
            }
        }
        switch item.endpoint {
        case .chat, .messages:
            break
        case .embeddings:
            guard let input = item.request["input"] else { return "`input` is required" }
            switch input {
            case .string(let text): return text.isEmpty ? "`input` must not be empty" : nil
            case .array(let list):
                guard !list.isEmpty, list.count <= 2_048 else { return "`input` must hold 1 to 2048 inputs" }
                let valid = list.allSatisfy { ($0.stringValue.map { !$0.isEmpty } ?? false) || $0.intValue != nil || $0.arrayValue != nil }
                return valid ? nil : "`input` must be a string, or an array of non-empty strings or of token arrays"
            default: return "`input` must be a string or an array"
            }
        case .responses:
            guard let input = item.request["input"], input.stringValue != nil || input.arrayValue != nil else {
                return "`input` (a string or an array of input items) is required"
            }
            return nil
        case .completions:
            guard let prompt = item.request["prompt"], prompt.stringValue != nil || prompt.arrayValue != nil else {
                return "`prompt` (a string or an array of strings) is required"
            }
            return nil
        case .raw:
            return nil
        }
        guard let messages = item.request["messages"] else { return "`messages` is required" }
        guard case .array(let list) = messages else { return "`messages` must be an array" }
        guard !list.isEmpty else { return "`messages` must hold at least one message" }
        for (index, message) in list.enumerated() {
            guard case .object(let fields) = message else { return "`messages[\(index)]` must be an object" }
            guard let role = fields["role"]?.stringValue, roles.contains(role) else {
                return "`messages[\(index)].role` must be one of \(roles.sorted().joined(separator: ", "))"
            }
            switch fields["content"] {
            case .string?, .array?:
                continue
            case .null?, nil:
                // An assistant turn that only calls tools has no content.
                if role == "assistant", fields["tool_calls"] != nil { continue }
                return "`messages[\(index)].content` is required"
            default:
                return "`messages[\(index)].content` must be a string or an array of content parts"
            }
        }
        return nil
    }
}
