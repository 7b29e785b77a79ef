/// The token reservation of a call before it is sent, for TPM limits:
/// `ceil(characters of every message text, system prompt and tool definition / 4)`
/// `+ (max_tokens ?? max_completion_tokens ?? 1024)`. Reconciled with the real `usage`
/// when the call ends, so the estimate only needs to be in the right range.
public enum TokenEstimate {
    public static let defaultOutputTokens = 1024

    public static func tokens(for request: JSONObject) -> Int {
        split(for: request).total
    }

    /// The same estimate, split into input and output (for separate input/output budgets).
    static func split(for request: JSONObject) -> TokenCount {
        var characters = 0
        func count(_ value: JSONValue?) {
            guard let value else { return }
            switch value {
            case .string(let text): characters += text.unicodeScalars.count
            case .array(let parts): parts.forEach { count($0["text"] ?? $0) }
            case .object(let object):
                if let text = object["text"] { count(text) } else if let content = object["content"] { count(content) }
            default: break
            }
        }
        for message in request["messages"]?.arrayValue ?? [] { count(message["content"]) }
        count(request["system"])
        if let tools = request["tools"] { characters += tools.jsonBytes.count }
        let input = (characters + 3) / 4
        let output = request["max_tokens"]?.intValue ?? request["max_completion_tokens"]?.intValue ?? defaultOutputTokens
        return TokenCount(input: input, output: max(0, output))
    }
}
