/// Token usage of one call (or a sum of calls).
public struct Usage: Sendable, Hashable {
    /// Every input token, those served from the provider's prompt cache included (OpenAI's
    /// `prompt_tokens`; Anthropic's `input_tokens` + `cache_read_input_tokens` +
    /// `cache_creation_input_tokens`).
    public var inputTokens: Int
    public var outputTokens: Int
    /// The part of `inputTokens` read from the prompt cache (OpenAI's
    /// `prompt_tokens_details.cached_tokens`, Anthropic's `cache_read_input_tokens`), billed at
    /// the model's `cached_input` price.
    public var cachedInputTokens: Int

    public init(inputTokens: Int = 0, outputTokens: Int = 0, cachedInputTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
    }

    public static func + (lhs: Usage, rhs: Usage) -> Usage {
        Usage(inputTokens: lhs.inputTokens + rhs.inputTokens, outputTokens: lhs.outputTokens + rhs.outputTokens,
              cachedInputTokens: lhs.cachedInputTokens + rhs.cachedInputTokens)
    }

    public static func += (lhs: inout Usage, rhs: Usage) { lhs = lhs + rhs }

    /// `{"input_tokens", "output_tokens"}`, and `cached_input_tokens` when some were cached.
    public var json: JSONValue {
        var object: JSONObject = ["input_tokens": .number(JSONNumber(inputTokens)), "output_tokens": .number(JSONNumber(outputTokens))]
        if cachedInputTokens > 0 { object["cached_input_tokens"] = .number(JSONNumber(cachedInputTokens)) }
        return .object(object)
    }

    /// OpenAI's `usage` (chat, completions: `prompt_tokens`, `completion_tokens`; Responses:
    /// `input_tokens`, `output_tokens`; cached tokens under `*_tokens_details.cached_tokens`),
    /// or Anthropic's (`input_tokens` and its cache reads and writes); nil without input tokens.
    public init?(reported usage: JSONValue?) {
        guard let usage, !usage.isNull else { return nil }
        if let prompt = usage["prompt_tokens"]?.intValue {
            self.init(inputTokens: prompt, outputTokens: usage["completion_tokens"]?.intValue ?? 0,
                      cachedInputTokens: usage["prompt_tokens_details"]?["cached_tokens"]?.intValue ?? 0)
        } else if let input = usage["input_tokens"]?.intValue {
            let read = usage["cache_read_input_tokens"]?.intValue ?? 0
            let written = usage["cache_creation_input_tokens"]?.intValue ?? 0
            // Responses counts cached tokens inside input_tokens; Anthropic counts them apart.
            let cached = usage["input_tokens_details"]?["cached_tokens"]?.intValue
            self.init(inputTokens: input + (cached == nil ? read + written : 0), outputTokens: usage["output_tokens"]?.intValue ?? 0,
                      cachedInputTokens: cached ?? read)
        } else {
            return nil
        }
    }
}
