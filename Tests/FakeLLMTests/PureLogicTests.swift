import Testing
import VolleyJSON

@testable import FakeLLM

@Suite("JSON, scripting, tokens and replies (no sockets)")
struct PureLogicTests {
    @Test func numbersAreWrittenAsTheFakeAlwaysHas() {
        #expect(JSONValue.fakeNumber(5).jsonString == "5")
        #expect(JSONValue.fakeNumber(-150).jsonString == "-150")
        #expect(JSONValue.fakeNumber(0.25).jsonString == "0.25")
        #expect(JSONValue.fakeNumber(1.5e16).jsonString == "1.5e+16")
        #expect(JSONValue.fakeNumber(.nan) == .null)
    }

    @Test func scalarTextReadsNumbersAsDoubles() throws {
        let body = try JSONParser.parse(#"{"a":5,"b":5.0,"c":-1.5e2,"d":0.25,"e":true,"f":"x","g":null,"h":[]}"#)
        #expect(["a", "b", "c", "d", "e", "f"].map { body[$0]?.scalarText } == ["5", "5", "-150", "0.25", "true", "x"])
        #expect(body["g"]?.scalarText == nil && body["h"]?.scalarText == nil)
    }

    @Test(arguments: ["", "{", "{\"a\":}", "[1,]", "01", "\"\\x\"", "{\"a\":1} x", "tru", "\"\u{01}\""])
    func invalidJSONIsRejected(text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func deepNestingIsRejectedNotCrashing() {
        let text = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func scriptReadsHeadersAndBodyWins() throws {
        let body = try JSONParser.parse(#"{"fake":{"latency_ms":5,"mode":"stall","tool_call":true,"reply":"hi there"}}"#)
        let script = try FakeScript.parse(
            headers: [
                ("X-Fake-Latency-Ms", "100"), ("x-fake-status", "503"), ("x-fake-retry-after", "7"),
                ("x-fake-should-retry", "false"), ("content-type", "application/json"),
            ],
            body: body)
        #expect(script.latencyMs == 5)
        #expect(script.status == 503)
        #expect(script.retryAfter == "7")
        #expect(script.shouldRetry == false)
        #expect(script.mode == .stall)
        #expect(script.toolCall)
        #expect(script.reply == "hi there")
    }

    @Test(arguments: [
        [("x-fake-latency", "1")],
        [("x-fake-mode", "explode")],
        [("x-fake-status", "99")],
        [("x-fake-fail-rate", "2")],
        [("x-fake-output-tokens", "-1")],
        [("x-fake-tool-call", "maybe")],
        [("x-fake-latency-ms", "1e300")],
        [("x-fake-chunk-delay-ms", "-1")],
        [("x-fake-output-tokens", "2000000")],
        [("x-fake-retry-after", "1\r\nx-evil: 1")],
    ])
    func badScriptsAreRejected(headers: [(String, String)]) {
        #expect(throws: FakeScriptError.self) { try FakeScript.parse(headers: headers, body: nil) }
    }

    @Test func badBodyScriptIsRejected() throws {
        #expect(throws: FakeScriptError.self) { try FakeScript.parse(headers: [], body: try JSONParser.parse(#"{"fake":1}"#)) }
        #expect(throws: FakeScriptError.self) {
            try FakeScript.parse(headers: [], body: try JSONParser.parse(#"{"fake":{"latencyMs":1}}"#))
        }
    }

    @Test func promptTokensAreCeilingOfScalarsOverFour() {
        #expect(FakeTokenizer.promptTokens(characterCount: 0) == 0)
        #expect(FakeTokenizer.promptTokens(characterCount: 1) == 1)
        #expect(FakeTokenizer.promptTokens(characterCount: 4) == 1)
        #expect(FakeTokenizer.promptTokens(characterCount: 5) == 2)
    }

    @Test func piecesJoinBackToTheText() {
        for text in ["", "one", " lead", "a b  c", "trail  ", "   ", "x\ny"] {
            #expect(FakeTokenizer.pieces(text).joined() == text)
        }
        #expect(FakeTokenizer.pieces("a b  c") == ["a", " b", "  c"])
    }

    @Test func generatedReplyEchoesThenFills() throws {
        let request = try FakeChatRequest.openAI(
            JSONParser.parse(#"{"model":"m","messages":[{"role":"user","content":"hello   big world"}]}"#))
        let reply = FakeReply.make(for: request, script: FakeScript(), defaultOutputTokens: 6)
        #expect(reply.text == "Echo: hello big world lorem ipsum")
        #expect(reply.outputTokens == 6)
        #expect(!reply.truncated)
    }

    @Test func maxTokensCutsTheReply() throws {
        let request = try FakeChatRequest.openAI(
            JSONParser.parse(#"{"model":"m","max_completion_tokens":2,"messages":[{"role":"user","content":"hello world"}]}"#))
        var script = FakeScript()
        script.reply = "one two three"
        let reply = FakeReply.make(for: request, script: script, defaultOutputTokens: 16)
        #expect(reply.text == "one two")
        #expect(reply.truncated)
        script.reply = "exactly two"
        #expect(FakeReply.make(for: request, script: script, defaultOutputTokens: 16).truncated == false)
    }

    @Test func toolCallArgumentsFollowTheSchema() throws {
        let request = try FakeChatRequest.openAI(
            JSONParser.parse(
                #"{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object","properties":{"q":{"type":"string"},"n":{"type":"integer"},"opt":{"type":"boolean"}},"required":["q","n"]}}}]}"#
            ))
        var script = FakeScript()
        script.toolCall = true
        let reply = FakeReply.make(for: request, script: script, defaultOutputTokens: 16)
        #expect(reply.toolCall?.name == "lookup")
        #expect(reply.toolCall?.argumentsText == #"{"q":"fake","n":0}"#)
    }

    @Test func requestValidation() throws {
        #expect(throws: FakeRequestProblem.self) { try FakeChatRequest.openAI(JSONParser.parse(#"{"messages":[]}"#)) }
        #expect(throws: FakeRequestProblem.self) { try FakeChatRequest.openAI(JSONParser.parse(#"{"model":"m","messages":[]}"#)) }
        #expect(throws: FakeRequestProblem.self) {
            try FakeChatRequest.openAI(JSONParser.parse(#"{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}"#))
        }
        #expect(throws: FakeRequestProblem.self) {
            try FakeChatRequest.anthropic(JSONParser.parse(#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#))
        }
        let anthropic = try FakeChatRequest.anthropic(
            JSONParser.parse(
                #"{"model":"m","max_tokens":9,"system":[{"type":"text","text":"abcd"}],"messages":[{"role":"user","content":"efgh"},{"role":"assistant","content":"i"}]}"#
            ))
        #expect(anthropic.inputTokens == 3)  // 9 characters
        #expect(anthropic.lastUserText == "efgh")
    }

    @Test func partialDeliveryNeverIncludesTheLastEvent() {
        #expect(ResponsePlan.partialEventCount(of: 1) == 0)
        #expect(ResponsePlan.partialEventCount(of: 2) == 1)
        #expect(ResponsePlan.partialEventCount(of: 20) == 10)
        #expect(ResponsePlan.partial(of: Array("abcdef".utf8)) == Array("abc".utf8))
    }

    @Test func seededGeneratorRepeatsAndLatencyIsClamped() {
        var a = SeededGenerator(seed: 42)
        var b = SeededGenerator(seed: 42)
        #expect((0..<5).map { _ in a.next() } == (0..<5).map { _ in b.next() })
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<200 {
            let uniform = FakeLatency.uniform(min: 10, max: 20).sampleMilliseconds(using: &generator)
            #expect(uniform >= 10 && uniform <= 20)
            #expect(FakeLatency.normal(mean: 0, stddev: 50).sampleMilliseconds(using: &generator) >= 0)
        }
    }
}
