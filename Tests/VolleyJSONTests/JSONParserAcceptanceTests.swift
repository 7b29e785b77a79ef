import Testing
import VolleyJSON

@Suite("JSONParser accepts RFC 8259 JSON")
struct JSONParserAcceptanceTests {
    @Test func scalars() throws {
        #expect(try JSONParser.parse("null") == .null)
        #expect(try JSONParser.parse("true") == .bool(true))
        #expect(try JSONParser.parse("false") == .bool(false))
        #expect(try JSONParser.parse("\"hi\"") == .string("hi"))
        #expect(try JSONParser.parse("42") == 42)
        #expect(try JSONParser.parse("-0").numberValue?.text == "-0")
    }

    @Test func containersAndWhitespace() throws {
        let value = try JSONParser.parse(" \t\r\n{ \"a\" : [ 1 , { } , [ ] ] ,\n\"b\":null } \n")
        #expect(value == ["a": [1, [:], []], "b": .null])
        #expect(value["a"]?[1] == .object(JSONObject()))
    }

    @Test(arguments: ["0", "-0", "0.5", "-0.0e0", "1.5e-3", "1E+2", "1e2", "12345678901234567890", "1.10", "-123.456E-789"])
    func numbersKeepTheirText(_ text: String) throws {
        #expect(try JSONParser.parse(text).numberValue?.text == text)
    }

    @Test func simpleEscapes() throws {
        let value = try JSONParser.parse(#""\"\\\/\b\f\n\r\t""#)
        #expect(value == .string("\"\\/\u{08}\u{0C}\n\r\t"))
    }

    @Test func unicodeEscapes() throws {
        #expect(try JSONParser.parse(#""caf\u00e9 \u00E9""#) == .string("café é"))
        #expect(try JSONParser.parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try JSONParser.parse(#""\uD83D\uDE00!""#) == .string("😀!"))
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
    }

    @Test func loneSurrogateEscapesBecomeReplacementCharacters() throws {
        #expect(try JSONParser.parse(#""\uD800""#) == .string("\u{FFFD}"))
        #expect(try JSONParser.parse(#""a\uDC00b""#) == .string("a\u{FFFD}b"))
        #expect(try JSONParser.parse(#""\uD800\u0041""#) == .string("\u{FFFD}A"))
        #expect(try JSONParser.parse(#""\uD800\uD83D\uDE00""#) == .string("\u{FFFD}😀"))
        #expect(try JSONParser.parse(#""\uDE00\uD83D""#) == .string("\u{FFFD}\u{FFFD}"))
        #expect(try JSONParser.parse(#""\uD83Dx""#) == .string("\u{FFFD}x"))
    }

    @Test func rawUTF8AndEdgeCharacters() throws {
        let text = "\"é 😀 中 \u{7F} \u{2028} \u{10FFFF}\""
        #expect(try JSONParser.parse(text) == .string("é 😀 中 \u{7F} \u{2028} \u{10FFFF}"))
    }

    @Test func escapedAndRawTextMixInOneString() throws {
        #expect(try JSONParser.parse(#""é\n😀\t\u0041b""#) == .string("é\n😀\tAb"))
    }

    @Test func duplicateKeysKeepFirstPositionAndLastValue() throws {
        let value = try JSONParser.parse(#"{"a":1,"b":2,"a":3}"#)
        #expect(value.objectValue?.keys == ["a", "b"])
        #expect(value["a"] == 3)
        #expect(value.jsonString == #"{"a":3,"b":2}"#)
    }

    @Test func everyInputShape() throws {
        let text = #"{"k":[1,"x"]}"#
        let expected: JSONValue = ["k": [1, "x"]]
        let bytes = Array(text.utf8)
        #expect(try JSONParser.parse(text) == expected)
        #expect(try JSONParser.parse(bytes) == expected)
        #expect(try JSONParser.parse(bytes[...]) == expected)
        #expect(try JSONParser.parse(bytes.lazy.map { $0 }) == expected)
        let viaRaw = try bytes.withUnsafeBytes { raw in try JSONParser.parse(raw) }
        #expect(viaRaw == expected)
    }

    @Test func depthLimitAllowsExactlyMaxDepth() throws {
        #expect(parseError(nestedArrays(depth: 512)) == nil)
        #expect(parseError(nestedArrays(depth: 3), maxDepth: 3) == nil)
        #expect(parseError("1", maxDepth: 0) == nil)
    }

    @Test func largeObjectsUseTheIndexCorrectly() throws {
        let members = (0..<100).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        let value = try JSONParser.parse("{\(members),\"k7\":-7}")
        let object = try #require(value.objectValue)
        #expect(object.count == 100)
        #expect(object["k7"] == -7)
        #expect(object["k99"] == 99)
        #expect(object.keys.first == "k0")
        #expect(object.keys.last == "k99")
    }
}
