/// The fake server's token arithmetic, simple enough for a client test to reproduce.
///
/// - Prompt tokens: `ceil(characters / 4)`, where characters are the Unicode scalars of every
///   message's text content (plus Anthropic's `system`; for responses, every input item's text
///   plus `instructions`), summed over the request. This is the same "chars / 4 rounded up"
///   estimate Volley's limiter uses, and Python's `len(str)` counts the same scalars. Legacy
///   completions' prompts and embeddings' inputs are counted one by one and summed (each
///   rounded up apart), a token-id array counting one token per id.
/// - Output tokens: one token per word. A text is split into pieces, each a run of non-space
///   characters with the whitespace before it; the pieces concatenate back to the exact text and
///   each is one token (and one streamed delta).
enum FakeTokenizer {
    /// `ceil(scalars / 4)` for `characterCount` Unicode scalars.
    static func promptTokens(characterCount: Int) -> Int {
        (max(0, characterCount) + 3) / 4
    }

    /// The text's token pieces; `pieces(text).joined() == text` always. Whitespace after the last
    /// word joins the last piece; a text of whitespace only is one piece.
    static func pieces(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        var inWord = false
        for character in text {
            let isSpace = character.isWhitespace
            if isSpace && inWord {
                result.append(current)
                current = ""
                inWord = false
            }
            current.append(character)
            if !isSpace { inWord = true }
        }
        if inWord {
            result.append(current)
        } else if !current.isEmpty {
            if result.isEmpty { result.append(current) } else { result[result.count - 1] += current }
        }
        return result
    }
}
