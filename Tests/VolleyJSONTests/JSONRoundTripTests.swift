import Testing
import VolleyJSON

@Suite("Parsing and writing again loses nothing")
struct JSONRoundTripTests {
    @Test(arguments: [
        #"{"z":1,"a":[12345678901234567890,1.10,-0,1E+2,1e-7,-0.0,0.1e-999999],"m":{"b":null,"a":true},"s":"é😀\n\"x\"\\"}"#,
        #"[]"#,
        #"{}"#,
        #"[[[[]]],{},{"":""}]"#,
        #""\u0001\u001f\b\f\t\r\n""#,
        #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hi"}],"max_tokens":256,"temperature":0.70}"#,
    ])
    func compactInputComesBackByteForByte(_ text: String) throws {
        #expect(try reserialized(text) == text)
    }

    @Test func bigIntegersAndLiteralSpellingsSurviveInsideBodies() throws {
        let text = #"{"id":12345678901234567890,"seed":-9223372036854775809,"p":1.10,"z":-0,"e":1E+2,"f":2.5e-3}"#
        let value = try JSONParser.parse(text)
        #expect(value.jsonBytes == Array(text.utf8))
        #expect(value["id"]?.intValue == nil)
        #expect(value["id"]?.doubleValue == 12345678901234567890.0)
    }

    @Test func whitespaceIsDroppedAndNothingElseChanges() throws {
        let text = "{ \"b\" : [ 1 , 2.50 ] ,\r\n\t\"a\" : { } }"
        #expect(try reserialized(text) == #"{"b":[1,2.50],"a":{}}"#)
    }

    @Test func keyOrderIsPreserved() throws {
        let keys = ["zeta", "alpha", "mu", "beta", "omega"]
        let text = "{" + keys.map { "\"\($0)\":0" }.joined(separator: ",") + "}"
        let value = try JSONParser.parse(text)
        #expect(value.objectValue?.keys == keys)
        #expect(value.jsonString == text)
    }

    @Test func escapesAreNormalisedButMeaningIsKept() throws {
        // `\/` and `\u0041` need no escape when written; the decoded text is the same.
        #expect(try reserialized(#""a\/b\u0041\u00e9""#) == "\"a/bAé\"")
        let surrogatePair = try JSONParser.parse(#""\uD83D\uDE00""#)
        #expect(surrogatePair.jsonString == "\"😀\"")
    }

    @Test func reparsingWrittenOutputGivesTheSameValue() throws {
        let value: JSONValue = [
            "text": "line1\nline2\u{0}\u{1F}\u{7F}\"quoted\"\\",
            "list": [1, 2.5, .null, true, ["nested": "é"]],
            "empty": [:],
        ]
        #expect(try JSONParser.parse(value.jsonBytes) == value)
    }
}
