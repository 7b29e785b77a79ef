import Testing
import VolleyCore
@testable import VolleyRun

@Suite struct LineDecoderTests {
    let none = LineDefaults()

    func decode(_ text: String, line: Int = 1, defaults: LineDefaults = LineDefaults()) -> DecodedLine {
        LineDecoder.decode(Array(text.utf8), line: line, defaults: defaults)
    }

    @Test func blankLinesAreSkipped() {
        #expect(decode("") == .blank)
        #expect(decode("  \t \r") == .blank)
    }

    @Test func itemLineKeepsItsKey() throws {
        guard case .item(let key, let value, _) = decode(mockItem("doc-1")) else {
            Issue.record("not an item")
            return
        }
        #expect(key == "doc-1")
        #expect(value["key"]?.stringValue == "doc-1")
        #expect(value["provider"]?.stringValue == "mock")
    }

    @Test func aByteOrderMarkOnTheFirstLineIsIgnored() {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array(mockItem("bom").utf8)
        guard case .item(let key, _, _) = LineDecoder.decode(bytes, line: 1, defaults: none) else {
            Issue.record("not an item")
            return
        }
        #expect(key == "bom")
    }

    @Test func itemWithoutKeyIsKeyedByLine() {
        guard case .item(let key, let value, _) = decode(mockItem(nil), line: 42) else {
            Issue.record("not an item")
            return
        }
        #expect(key == "line:42")
        #expect(value["key"]?.stringValue == "line:42")
    }

    @Test func openAIBatchLineBecomesAnItem() {
        guard case .item(let key, let value, _) = decode(openAILine("req-7")) else {
            Issue.record("not an item")
            return
        }
        #expect(key == "req-7")
        #expect(value["key"]?.stringValue == "req-7")
        #expect(value["request"]?["model"]?.stringValue == "gpt-4o-mini")
        #expect(value["provider"] == nil)
        #expect(value["custom_id"] == nil)
    }

    @Test func defaultsFillOnlyWhatIsMissing() {
        let defaults = LineDefaults(model: "m-default", timeoutSeconds: 7)
        guard case .item(_, let item, _) = decode(mockItem("a"), defaults: defaults) else {
            Issue.record("not an item")
            return
        }
        #expect(item["request"]?["model"]?.stringValue == "m-default")
        #expect(item["timeout"]?.doubleValue == 7)

        guard case .item(_, let openAI, _) = decode(openAILine("b"), defaults: defaults) else {
            Issue.record("not an item")
            return
        }
        #expect(openAI["request"]?["model"]?.stringValue == "gpt-4o-mini")
        #expect(openAI["timeout"]?.doubleValue == 7)

        let own = #"{"key":"c","timeout":2,"request":{"model":"mine","messages":[]}}"#
        guard case .item(_, let kept, _) = decode(own, defaults: defaults) else {
            Issue.record("not an item")
            return
        }
        #expect(kept["request"]?["model"]?.stringValue == "mine")
        #expect(kept["timeout"]?.doubleValue == 2)
    }

    @Test(arguments: [
        ("{not json", "line:3", "line 3: invalid JSON"),
        ("[1,2]", "line:3", "line 3: expected a JSON object"),
        (#"{"key":"k"}"#, "k", "line 3: `request` is required"),
        (#"{"key":5,"request":{}}"#, "line:3", "line 3: `key` must be a string"),
        (#"{"key":"k","request":{},"timeout":-1}"#, "k", "line 3: `timeout` must be a positive number"),
        (#"{"custom_id":"c","method":"GET","url":"/v1/chat/completions","body":{}}"#, "c", "line 3: `method` must be \"POST\""),
        (#"{"custom_id":"c","url":"/v1/audio/speech","body":{}}"#, "c", "line 3: `url` \"/v1/audio/speech\" is not supported"),
        (#"{"custom_id":"c","url":"/v1/chat/completions"}"#, "c", "line 3: `body` is required"),
        (#"{"custom_id":"c","body":{}}"#, "c", "line 3: `url` is required"),
        (#"{"custom_id":7,"url":"/v1/chat/completions","body":{}}"#, "line:3", "line 3: `custom_id` must be a string"),
    ])
    func badLinesNameTheirLine(text: String, key: String, prefix: String) {
        guard case .invalid(let gotKey, let message, _) = decode(text, line: 3) else {
            Issue.record("\(text) was accepted")
            return
        }
        #expect(gotKey == key)
        #expect(message.hasPrefix(prefix), "\(message)")
    }
}
