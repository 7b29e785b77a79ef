import Testing
import VolleyJSON

@Suite("JSONObject")
struct JSONObjectTests {
    @Test func insertionOrderAndInPlaceUpdates() {
        var object = JSONObject()
        object["b"] = 1
        object["a"] = 2
        object["c"] = 3
        #expect(object.keys == ["b", "a", "c"])
        #expect(object.updateValue(20, forKey: "a") == 2)
        #expect(object.keys == ["b", "a", "c"])
        #expect(object.values == [1, 20, 3])
        #expect(object["a"] == 20)
        #expect(object["missing"] == nil)
        #expect(object.count == 3)
        #expect(!object.isEmpty)
    }

    @Test func removal() {
        var object: JSONObject = ["a": 1, "b": 2, "c": 3]
        #expect(object.removeValue(forKey: "b") == 2)
        #expect(object.removeValue(forKey: "b") == nil)
        object["a"] = nil
        #expect(object.keys == ["c"])
        object["a"] = 4
        #expect(object.keys == ["c", "a"])
    }

    @Test func bigObjectsStayCorrectThroughIndexChanges() {
        var object = JSONObject()
        for i in 0..<50 {
            object["k\(i)"] = .number(JSONNumber(i))
        }
        #expect(object.count == 50)
        for i in 0..<50 {
            #expect(object["k\(i)"] == .number(JSONNumber(i)))
        }
        for i in stride(from: 0, to: 50, by: 2) {
            #expect(object.removeValue(forKey: "k\(i)") == .number(JSONNumber(i)))
        }
        #expect(object.count == 25)
        #expect(object.keys.first == "k1")
        for i in 0..<50 {
            #expect((object["k\(i)"] != nil) == (i % 2 == 1))
        }
        object["k3"] = "updated"
        #expect(object.keys[1] == "k3")
        #expect(object["k3"] == "updated")
        // Shrinking below the threshold drops the index; lookups keep working.
        for i in stride(from: 1, to: 40, by: 2) {
            object["k\(i)"] = nil
        }
        #expect(object.keys == ["k41", "k43", "k45", "k47", "k49"])
        #expect(object["k45"] == 45)
        object["new"] = true
        #expect(object.keys.last == "new")
    }

    @Test func equalityAndHashIgnoreOrder() {
        let first: JSONObject = ["a": 1, "b": ["x": true]]
        let second: JSONObject = ["b": ["x": true], "a": 1]
        let different: JSONObject = ["a": 1, "b": ["x": false]]
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(first != different)
        #expect(first != ["a": 1])
        #expect(Set([JSONValue.object(first), .object(second)]).count == 1)
    }

    @Test func iterationYieldsMembersInOrder() {
        let object: JSONObject = ["x": 1, "y": 2]
        #expect(object.map(\.key) == ["x", "y"])
        #expect(object.map(\.value) == [1, 2])
    }

    /// Found by review while writing the Foundation differential (fuzz-json-diff): `String`
    /// equality is canonical equivalence, so `"é"` and `"e\u{301}"` were one key and a parsed
    /// object lost a member. JSON compares names by code points (RFC 8259 §8.3).
    @Test func keysThatAreCanonicallyEquivalentAreDistinct() throws {
        let composed = "\u{E9}", decomposed = "e\u{301}", kelvin = "\u{212A}"
        let parsed = try JSONParser.parse(#"{"\#(composed)":1,"\#(decomposed)":2,"\#(kelvin)":3,"K":4}"#)
        guard case .object(let object) = parsed else {
            Issue.record("not an object")
            return
        }
        #expect(object.count == 4)
        #expect(object[composed] == 1)
        #expect(object[decomposed] == 2)
        #expect(object[kelvin] == 3)
        #expect(object["K"] == 4)
        #expect(parsed.jsonString == #"{"\#(composed)":1,"\#(decomposed)":2,"\#(kelvin)":3,"K":4}"#)
        let one: JSONObject = [composed: 1]
        #expect(one != [decomposed: 1])
        // The same through the hash index of a big object.
        var big = JSONObject()
        for i in 0..<20 { big["k\(i)"] = .number(JSONNumber(i)) }
        big[composed] = 1
        big[decomposed] = 2
        #expect(big.count == 22)
        #expect(big[composed] == 1 && big[decomposed] == 2)
        big[decomposed] = nil
        #expect(big.count == 21 && big[composed] == 1 && big[decomposed] == nil)
    }

    /// Canonically equivalent names of the same UTF-8 length (two combining marks in either
    /// order) are still two names: `String`'s `==` says they are equal, their bytes do not.
    @Test func equivalentKeysOfTheSameByteLengthAreDistinct() throws {
        let first = "a\u{301}\u{316}", second = "a\u{316}\u{301}"
        #expect(first == second && Array(first.utf8).count == Array(second.utf8).count, "the case this test is for")
        let parsed = try JSONParser.parse(#"{"\#(first)":1,"\#(second)":2,"long-key-1234567":3,"long-key-1234568":4}"#)
        guard case .object(let object) = parsed else {
            Issue.record("not an object")
            return
        }
        #expect(object.count == 4)
        #expect(object[first] == 1 && object[second] == 2)
        #expect(object["long-key-1234567"] == 3 && object["long-key-1234568"] == 4, "keys past eight bytes differ in the last")
        #expect(object["long-key-123456"] == nil && object["long-key-12345678"] == nil)
        var big = JSONObject()
        for i in 0..<20 { big["k\(i)"] = .number(JSONNumber(i)) }
        big[first] = 1
        big[second] = 2
        #expect(big.count == 22 && big[first] == 1 && big[second] == 2)
    }

    @Test func literalDuplicateKeysBehaveLikeParsing() {
        let object: JSONObject = ["a": 1, "b": 2, "a": 3]
        #expect(object.keys == ["a", "b"])
        #expect(object["a"] == 3)
    }
}
