import Testing
import VolleyJSON

@Suite("JSONParser builds only the selected parts")
struct JSONSelectionTests {
    static let reply = #"""
    {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",
     "choices":[{"index":0,"message":{"role":"assistant","content":"Hi \u00e9","refusal":null,
       "annotations":[]},"logprobs":null,"finish_reason":"stop"},
      {"index":1,"message":{"role":"assistant","content":"second"},"finish_reason":"length"}],
     "usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,
       "prompt_tokens_details":{"cached_tokens":0}},"system_fingerprint":"fp_1"}
    """#

    static let selection: JSONSelection = .members([
        "model": .all,
        "choices": .members(["message": .members(["content": .all]), "finish_reason": .all]),
        "usage": .members(["prompt_tokens": .all, "completion_tokens": .all]),
    ])

    @Test func keepsExactlyTheSelectedMembersInDocumentOrder() throws {
        let value = try JSONParser.parse(Array(Self.reply.utf8), selecting: Self.selection)
        #expect(value.jsonString == #"{"model":"gpt-4o-mini","choices":[{"message":{"content":"Hi é"},"finish_reason":"stop"},{"message":{"content":"second"},"finish_reason":"length"}],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#)
        // Each selected field is the one a full parse reads there.
        let full = try JSONParser.parse(Self.reply)
        #expect(value["model"] != nil && value["model"] == full["model"])
        for index in 0..<2 {
            let choice = value["choices"]?[index], parsed = full["choices"]?[index]
            #expect(choice?["message"]?["content"] != nil && choice?["message"]?["content"] == parsed?["message"]?["content"])
            #expect(choice?["finish_reason"] != nil && choice?["finish_reason"] == parsed?["finish_reason"])
        }
        #expect(value["choices"]?.arrayValue?.count == full["choices"]?.arrayValue?.count)
        for name in ["prompt_tokens", "completion_tokens"] {
            #expect(value["usage"]?[name] != nil && value["usage"]?[name] == full["usage"]?[name])
        }
    }

    @Test func allKeepsAWholeSubtreeAndScalarsStayAsTheyAre() throws {
        let value = try JSONParser.parse(Array(Self.reply.utf8), selecting: .members(["choices": .all, "created": .members([:])]))
        let full = try JSONParser.parse(Self.reply)
        #expect(value["choices"] == full["choices"])
        #expect(value["created"] == .number(1))
        #expect(value["id"] == nil)
    }

    @Test func duplicateKeysKeepTheLastValueAsAFullParseDoes() throws {
        let text = #"{"a":1,"b":{"x":1,"y":2},"a":2,"b":{"x":3}}"#
        let value = try JSONParser.parse(Array(text.utf8), selecting: .members(["a": .all, "b": .members(["x": .all])]))
        #expect(value.jsonString == #"{"a":2,"b":{"x":3}}"#)
        let full = try JSONParser.parse(text)
        #expect(value["a"] == full["a"])
        #expect(value["b"]?["x"] == full["b"]?["x"])
    }

    @Test(arguments: [
        #"{"skip":[1,2,{"deep":"\u12G4"}],"keep":1}"#,   // bad escape in a skipped part
        #"{"skip":01,"keep":1}"#,                         // bad number in a skipped part
        #"{"skip":"a\#u{01}","keep":1}"#,                 // control character in a skipped string
        #"{"skip":[1,],"keep":1}"#,                       // grammar error in a skipped array
        #"{"skip":{"a" 1},"keep":1}"#,                    // grammar error in a skipped object
        #"{"skip":tru,"keep":1}"#,                        // bad literal in a skipped part
    ])
    func errorsInSkippedPartsAreTheSameAsInAFullParse(_ text: String) {
        let bytes = Array(text.utf8)
        var full: JSONParseError?
        do throws(JSONParseError) { _ = try JSONParser.parse(bytes) } catch { full = error }
        var selective: JSONParseError?
        do throws(JSONParseError) { _ = try JSONParser.parse(bytes, selecting: .members(["keep": .all])) } catch { selective = error }
        #expect(full != nil)
        #expect(selective == full)
    }

    @Test func skippedContainersCountTowardsTheDepthLimit() {
        let text = #"{"skip":"# + nestedArrays(depth: 10) + "}"
        var caught: JSONParseError?
        do throws(JSONParseError) { _ = try JSONParser.parse(Array(text.utf8), selecting: .members([:]), maxDepth: 5) } catch { caught = error }
        #expect(caught?.kind == .depthLimitExceeded)
    }

    @Test(arguments: [JSONSelectionTests.reply, #"[1, -2.5e3, "\ud83d\ude00", true, false, null, {}]"#, "0", #"{"skip":01}"#, "[1,]", "tru", ""])
    func validateAcceptsWhatParseAccepts(_ text: String) {
        var parsed: JSONParseError?
        do throws(JSONParseError) { _ = try JSONParser.parse(text) } catch { parsed = error }
        var validated: JSONParseError?
        do throws(JSONParseError) { try JSONParser.validate(text.utf8) } catch { validated = error }
        #expect(validated == parsed)
    }
}
