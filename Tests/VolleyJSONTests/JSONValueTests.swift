import Testing
import VolleyJSON

@Suite("JSONValue conveniences")
struct JSONValueTests {
    @Test func literalsBuildMessagesInOrder() {
        let value: JSONValue = [
            "model": "m", "n": 1, "f": 1.5, "ok": true, "none": .null, "list": [1, "a"], "obj": ["k": "v"],
        ]
        #expect(value.jsonString == #"{"model":"m","n":1,"f":1.5,"ok":true,"none":null,"list":[1,"a"],"obj":{"k":"v"}}"#)
    }

    /// `nil` would mean `.null` in a JSON position and `Optional.none` in an optional one (the
    /// `raw: null` bug): JSON null is spelled `.null`, and this keeps it so.
    @Test func nilIsNotAJSONLiteral() {
        #expect(!(JSONValue.self is any ExpressibleByNilLiteral.Type))
        let absent: JSONValue? = nil
        #expect(absent == nil && absent != .null)
    }

    @Test func accessors() throws {
        let value = try JSONParser.parse(#"{"s":"x","i":3,"d":2.5,"b":false,"a":[10,20],"o":{},"n":null}"#)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["i"]?.intValue == 3)
        #expect(value["i"]?.doubleValue == 3)
        #expect(value["d"]?.doubleValue == 2.5)
        #expect(value["d"]?.intValue == nil)
        #expect(value["b"]?.boolValue == false)
        #expect(value["a"]?[1] == 20)
        #expect(value["a"]?[2] == nil)
        #expect(value["a"]?[-1] == nil)
        #expect(value["a"]?.arrayValue?.count == 2)
        #expect(value["o"]?.objectValue?.isEmpty == true)
        #expect(value["n"]?.isNull == true)
        #expect(value["s"]?.isNull == false)
        #expect(value["missing"] == nil)
        // Wrong kinds give nil, never a trap.
        #expect(value["s"]?.intValue == nil)
        #expect(value["s"]?["x"] == nil)
        #expect(value["s"]?[0] == nil)
        #expect(value.stringValue == nil)
        #expect(value.numberValue == nil)
        #expect(value.boolValue == nil)
        #expect(value.arrayValue == nil)
    }
}
