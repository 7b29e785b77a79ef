import Testing
import VolleyJSON

@Suite("JSONWriter")
struct JSONWriterTests {
    @Test func compactScalarsAndContainers() {
        let value: JSONValue = ["a": [1, "two", .null, true, false], "b": [:], "c": []]
        #expect(value.jsonString == #"{"a":[1,"two",null,true,false],"b":{},"c":[]}"#)
        #expect(JSONValue.null.jsonBytes == Array("null".utf8))
    }

    @Test func shortEscapes() {
        let value: JSONValue = "\"\\\n\r\t\u{08}\u{0C}/"
        #expect(value.jsonString == #""\"\\\n\r\t\b\f/""#)
    }

    @Test func everyControlCharacterIsEscaped() throws {
        let controls = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        let bytes = JSONValue.string(controls).jsonBytes
        #expect(!bytes.contains { $0 < 0x20 })
        #expect(String(decoding: bytes, as: UTF8.self).contains(#"\u0000\u0001"#))
        #expect(String(decoding: bytes, as: UTF8.self).contains(#"\u001f"#))
        #expect(try JSONParser.parse(bytes) == .string(controls))
    }

    @Test func nonASCIIIsRawUTF8() {
        let value: JSONValue = ["ключ": "值 😀 \u{2028}"]
        #expect(value.jsonBytes == Array("{\"ключ\":\"值 😀 \u{2028}\"}".utf8))
    }

    @Test func outputNeverContainsARawNewline() {
        let value: JSONValue = ["k\n": ["\n", "\r\n", ["deep\nline": "x"]]]
        #expect(!value.jsonBytes.contains(0x0A))
        #expect(!value.jsonBytes.contains(0x0D))
    }

    @Test func writeAppendsToExistingBytes() {
        var bytes = Array("prefix:".utf8)
        JSONValue.bool(true).write(into: &bytes)
        JSONWriter.writeString("é\"", into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #"prefix:true"é\"""#)
    }

    @Test func descriptionIsTheJSONText() {
        let value: JSONValue = ["n": 1]
        #expect("\(value)" == #"{"n":1}"#)
    }
}
