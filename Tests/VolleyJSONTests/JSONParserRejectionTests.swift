import Testing
import VolleyJSON

@Suite("JSONParser rejects what RFC 8259 does not allow")
struct JSONParserRejectionTests {
    @Test(arguments: ["", " ", "[", "[1,", "{", "{\"a\"", "{\"a\":", "\"abc", "\"a\\", "tru", "nul", "-", "1.", "1e", "1e+", "\"\\u12"])
    func truncatedInput(_ text: String) {
        let error = parseError(text)
        #expect(error?.kind == .unexpectedEndOfInput)
        #expect(error?.offset == text.utf8.count)
    }

    @Test(arguments: ["[1,]", "{\"a\":1,}", "{a:1}", "[1 2]", "{\"a\" 1}", "{\"a\":1 \"b\":2}", "NaN", "Infinity", "'a'", ".5", "+1", "[1;2]", "{,}", "[,1]", "\u{0B}1", "\u{0C}1", "\u{A0}1", "1\u{A0}"])
    func unexpectedCharacters(_ text: String) {
        let kind = parseError(text)?.kind
        #expect(kind == .unexpectedByte || (text.hasPrefix("1") && kind == .trailingData))
    }

    @Test(arguments: ["01", "-01", "00", "-Infinity", "-a", "1.e3", "1.a", "1e+a", "1ea", "-.5"])
    func invalidNumbers(_ text: String) {
        #expect(parseError(text)?.kind == .invalidNumber)
    }

    @Test func leadingZeroOffsetPointsAtTheSecondDigit() {
        #expect(parseError("[01]") == JSONParseError(kind: .invalidNumber, offset: 2))
    }

    @Test(arguments: ["1 2", "{} x", "[]]", "nullx", "1x", "\"a\"\"b\"", "true false", "{}{}"])
    func trailingData(_ text: String) {
        #expect(parseError(text)?.kind == .trailingData)
    }

    @Test(arguments: ["trux", "nulL", "fals3", "t", "[nil]"])
    func invalidLiterals(_ text: String) {
        let kind = parseError(text)?.kind
        #expect(kind == .invalidLiteral || (text == "t" && kind == .unexpectedEndOfInput))
    }

    @Test(arguments: [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F] as [UInt8])
    func rawControlCharactersInStrings(_ control: UInt8) {
        #expect(parseError([0x22, 0x61, control, 0x22]) == JSONParseError(kind: .controlCharacterInString, offset: 2))
        // Also after an escape, on the slow path.
        #expect(parseError([0x22, 0x5C, 0x6E, control, 0x22])?.kind == .controlCharacterInString)
    }

    @Test(arguments: [#""\x""#, #""\u12G4""#, #""\U1234""#, #""\'""#, #""\uD800\uZZZZ""#, #""\ ""#])
    func invalidEscapes(_ text: String) {
        #expect(parseError(text)?.kind == .invalidEscape)
    }

    @Test(arguments: [
        [0x22, 0xC3, 0x22],                   // lead byte, no continuation
        [0x22, 0x80, 0x22],                   // stray continuation
        [0x22, 0xC0, 0xAF, 0x22],             // overlong '/'
        [0x22, 0xC1, 0xBF, 0x22],             // overlong
        [0x22, 0xE0, 0x80, 0xAF, 0x22],       // overlong, three bytes
        [0x22, 0xF0, 0x80, 0x80, 0xAF, 0x22], // overlong, four bytes
        [0x22, 0xED, 0xA0, 0x80, 0x22],       // encoded surrogate U+D800
        [0x22, 0xED, 0xBF, 0xBF, 0x22],       // encoded surrogate U+DFFF
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], // U+110000
        [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], // lead byte beyond U+10FFFF
        [0x22, 0xFE, 0x22],
        [0x22, 0xFF, 0x22],
        [0x22, 0xE2, 0x82, 0x22],             // three-byte sequence cut short
        [0x22, 0xF0, 0x9F, 0x98, 0x22],       // four-byte sequence cut short
    ] as [[UInt8]])
    func invalidUTF8InStrings(_ bytes: [UInt8]) {
        #expect(parseError(bytes) == JSONParseError(kind: .invalidUTF8, offset: 1))
    }

    @Test func invalidUTF8EverywhereIsReportedAsSuch() {
        // Cut short by the end of the input.
        #expect(parseError([0x22, 0xE2, 0x82]) == JSONParseError(kind: .invalidUTF8, offset: 1))
        // Outside strings.
        #expect(parseError([0x5B, 0xFF, 0x5D]) == JSONParseError(kind: .invalidUTF8, offset: 1))
        #expect(parseError([0x31, 0x20, 0xC3]) == JSONParseError(kind: .invalidUTF8, offset: 2))
        // In a key, and after an escape.
        #expect(parseError(Array(#"{"a"#.utf8) + [0xC0, 0x80] + Array(#"":1}"#.utf8))?.kind == .invalidUTF8)
        #expect(parseError(Array(#""\n"#.utf8) + [0xED, 0xA0, 0x80, 0x22])?.kind == .invalidUTF8)
        // Valid UTF-8 in the wrong place is just an unexpected character.
        #expect(parseError(Array("[é]".utf8))?.kind == .unexpectedByte)
    }

    @Test func depthLimit() {
        #expect(parseError(nestedArrays(depth: 513)) == JSONParseError(kind: .depthLimitExceeded, offset: 512))
        #expect(parseError(nestedArrays(depth: 3), maxDepth: 2)?.kind == .depthLimitExceeded)
        #expect(parseError(#"{"a":{"b":{"c":1}}}"#, maxDepth: 2)?.kind == .depthLimitExceeded)
        #expect(parseError("[]", maxDepth: 0)?.kind == .depthLimitExceeded)
        // Deep input fails fast instead of exhausting the stack.
        #expect(parseError(String(repeating: "[", count: 1_000_000))?.kind == .depthLimitExceeded)
    }

    @Test func messagesNameTheProblemAndTheOffset() {
        #expect(parseError([0x22, 0xFF, 0x22])?.message == "invalid UTF-8 at byte 1")
        #expect(parseError("[1,")?.message == "unexpected end of input at byte 3")
        #expect(JSONParseError.Kind.allCases.count == 9)
    }
}
