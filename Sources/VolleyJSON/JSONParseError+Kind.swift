extension JSONParseError {
    /// The kinds of invalid input ``JSONParser`` distinguishes.
    public enum Kind: Sendable, Hashable, CaseIterable {
        /// The input ended before the value was complete (empty input included).
        case unexpectedEndOfInput
        /// A byte that cannot start or continue the value here (a stray character, `NaN`, a
        /// missing comma or colon, a trailing comma, a non-string key, whitespace other than
        /// space, tab, CR and LF).
        case unexpectedByte
        /// The bytes are not valid UTF-8: a stray continuation byte, an overlong form, an encoded
        /// surrogate, a value above U+10FFFF, or a sequence cut short.
        case invalidUTF8
        /// A raw control character (below U+0020) inside a string; it must be escaped.
        case controlCharacterInString
        /// A backslash escape that JSON does not define, or a `\u` without four hex digits.
        case invalidEscape
        /// A malformed number: leading zero, missing digits after `-`, `.` or the exponent.
        case invalidNumber
        /// A word that starts like `true`, `false` or `null` but is not.
        case invalidLiteral
        /// Something other than whitespace after a complete value.
        case trailingData
        /// Arrays and objects nested deeper than the parser's `maxDepth`.
        case depthLimitExceeded

        /// Lower-case noun phrase used in messages.
        var summary: String {
            switch self {
            case .unexpectedEndOfInput: "unexpected end of input"
            case .unexpectedByte: "unexpected character"
            case .invalidUTF8: "invalid UTF-8"
            case .controlCharacterInString: "unescaped control character in string"
            case .invalidEscape: "invalid escape sequence"
            case .invalidNumber: "invalid number"
            case .invalidLiteral: "invalid literal"
            case .trailingData: "unexpected data after the JSON value"
            case .depthLimitExceeded: "nesting too deep"
            }
        }
    }
}
