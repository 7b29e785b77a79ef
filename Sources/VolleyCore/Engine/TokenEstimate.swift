/// The token reservation of a call before it is sent, for TPM limits:
/// `ceil(characters of every message text, system prompt and tool definition / 4)`
/// `+ (max_tokens ?? max_completion_tokens ?? 1024)`. Reconciled with the real `usage`
/// when the call ends, so the estimate only needs to be in the right range. Per endpoint:
/// embeddings count their `input` only (no output); responses count `input` and
/// `instructions` plus `max_output_tokens`; completions `prompt` plus `max_tokens`; a raw call
/// of one of these APIs' paths as that API, of another path its body's bytes / 4 and no output.
public enum TokenEstimate {
    public static let defaultOutputTokens = 1024

    public static func tokens(for request: JSONObject) -> Int {
        split(for: request).total
    }

    /// The estimate of an item calling `endpoint`: input tokens, and its output allowance.
    public static func estimate(for request: JSONObject, endpoint: Item.Endpoint) -> (input: Int, output: Int) {
        let tokens = split(for: request, endpoint: endpoint)
        return (tokens.input, tokens.output)
    }

    /// The estimate of an item calling `endpoint`, split into input and output.
    static func split(for request: JSONObject, endpoint: Item.Endpoint) -> TokenCount {
        var characters = 0
        func count(_ value: JSONValue?) {
            guard let value else { return }
            switch value {
            case .string(let text): characters += text.unicodeScalars.count
            case .array(let parts): parts.forEach { count($0["text"] ?? $0["content"] ?? $0) }
            case .object(let object):
                if let text = object["text"] { count(text) } else if let content = object["content"] { count(content) }
            case .number: characters += 4  // A token id (embeddings of token arrays).
            default: break
            }
        }
        func output(_ names: String...) -> Int {
            max(0, names.lazy.compactMap { request[$0]?.intValue }.first ?? defaultOutputTokens)
        }
        switch endpoint {
        case .chat, .messages:
            return split(for: request)
        case .embeddings:
            count(request["input"])
            return TokenCount(input: (characters + 3) / 4, output: 0)
        case .responses:
            count(request["input"])
            count(request["instructions"])
            if let tools = request["tools"] { characters += tools.jsonBytes.count }
            return TokenCount(input: (characters + 3) / 4, output: output("max_output_tokens"))
        case .completions:
            count(request["prompt"])
            return TokenCount(input: (characters + 3) / 4, output: output("max_tokens"))
        case .raw(let path):
            // A known API's path is estimated as that API (an OpenAI Batch line runs as one).
            for (suffix, known) in [("/chat/completions", Item.Endpoint.chat), ("/embeddings", .embeddings),
                                    ("/responses", .responses), ("/completions", .completions), ("/messages", .messages)]
            where path.hasSuffix(suffix) {
                return split(for: request, endpoint: known)
            }
            return TokenCount(input: (JSONValue.object(request).jsonBytes.count + 3) / 4, output: 0)
        }
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
