/// The deterministic text (or tool call) a request is answered with.
///
/// Without a scripted `reply`, the text is `Echo: ` followed by the words of the first 60
/// characters of the last user message, then filler words, one token per word, until the
/// output token count is reached. With `reply`, the text is exactly that (cut to `max_tokens`
/// words if needed).
struct FakeReply: Sendable, Equatable {
    /// The streamed pieces, one token each; joined they make `text`.
    var pieces: [String]
    /// True when `max_tokens` cut the reply short (`finish_reason: "length"` / `"max_tokens"`).
    var truncated: Bool
    /// A tool call to answer with instead of text, when scripted and the request has tools.
    var toolCall: FakeToolCall?
    /// Prompt tokens reported as cached (`cached_tokens` in the script; capped at the prompt's).
    var cachedTokens = 0

    var text: String { pieces.joined() }
    var outputTokens: Int { toolCall?.outputTokens ?? pieces.count }

    static let filler = [
        "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
        "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua",
    ]

    /// The reply for `request` under `script`, with `defaultOutputTokens` when not scripted.
    static func make(for request: FakeChatRequest, script: FakeScript, defaultOutputTokens: Int) -> FakeReply {
        var reply = uncached(for: request, script: script, defaultOutputTokens: defaultOutputTokens)
        reply.cachedTokens = script.cachedTokens
        return reply
    }

    private static func uncached(for request: FakeChatRequest, script: FakeScript, defaultOutputTokens: Int) -> FakeReply {
        if script.toolCall, let tool = request.firstTool {
            return FakeReply(pieces: [], truncated: false, toolCall: FakeToolCall(tool: tool))
        }
        let natural: [String]
        if let reply = script.reply {
            natural = FakeTokenizer.pieces(reply)
        } else {
            let wanted = min(max(0, script.outputTokens ?? defaultOutputTokens), FakeScript.maxOutputTokens)
            natural = generated(echoing: request.lastUserText, tokens: wanted)
        }
        let limit = request.maxTokens ?? Int.max
        if natural.count > limit {
            return FakeReply(pieces: Array(natural.prefix(max(0, limit))), truncated: true, toolCall: nil)
        }
        return FakeReply(pieces: natural, truncated: false, toolCall: nil)
    }

    /// One reply per prompt of `request` (legacy completions may have several), each made as
    /// `make` does and echoing its own prompt.
    static func makeEach(for request: FakeChatRequest, script: FakeScript, defaultOutputTokens: Int) -> [FakeReply] {
        ([request.lastUserText] + request.morePrompts).map { text in
            var single = request
            single.lastUserText = text
            single.morePrompts = []
            return make(for: single, script: script, defaultOutputTokens: defaultOutputTokens)
        }
    }

    /// `tokens` word pieces: "Echo:", the words of the first 60 characters of `userText`, filler.
    static func generated(echoing userText: String, tokens: Int) -> [String] {
        guard tokens > 0 else { return [] }
        var words = ["Echo:"]
        words += String(userText.prefix(60)).split(whereSeparator: { $0.isWhitespace }).map(String.init)
        var index = 0
        while words.count < tokens {
            words.append(filler[index % filler.count])
            index += 1
        }
        return words.prefix(tokens).enumerated().map { $0.offset == 0 ? $0.element : " " + $0.element }
    }
}
