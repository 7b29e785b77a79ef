import Testing
import VolleyHTTP
@testable import VolleyCore

/// The OpenAI and Anthropic stream readers, fed events directly: the deltas a host gets and the
/// whole answer they add up to.
struct StreamReaderTests {
    @Test func openAIChunksBecomeDeltasAndTheWholeAnswerWithUsage() throws {
        var reader = OpenAIClient.StreamReader(includeRaw: false)
        let events = [
            #"{"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            #"{"choices":[{"index":0,"delta":{"content":"Hel"}}]}"#,
            #"{"choices":[{"index":0,"delta":{"content":"lo"}}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            #"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4}}"#,
            "[DONE]",
        ]
        var deltas: [StreamDelta] = []
        for data in events {
            if let delta = try reader.read(SSEEvent(data: data)).get() { deltas.append(delta) }
        }
        #expect(deltas.map(\.text) == ["Hel", "lo", nil, nil], "an empty content is no delta")
        #expect(deltas[2].toolCalls == [ToolCallDelta(index: 0, id: "call_1", name: "f", arguments: "{\"a\"")])
        let value = try reader.attempt(ProviderConfig.Streamed(), apiKey: nil).result.get()
        #expect(value.text == "Hello" && value.finishReason == "tool_calls" && value.model == "gpt-x")
        #expect(value.usage == Usage(inputTokens: 9, outputTokens: 4))
        #expect(value.toolCalls == [["id": "call_1", "type": "function", "function": ["name": "f", "arguments": "{\"a\":1}"]]])
    }

    @Test func openAIAnEventThatIsNotJSONOrAnErrorStopsTheStream() {
        var reader = OpenAIClient.StreamReader(includeRaw: false)
        #expect(throws: ItemError.self) { try reader.read(SSEEvent(data: "{\"choices\":[{\"delta\":")).get() }
        var failing = OpenAIClient.StreamReader(includeRaw: false)
        let error = failing.read(SSEEvent(data: #"{"error":{"message":"server had an error","type":"server_error"}}"#))
        guard case .failure(let failure) = error else {
            Issue.record("\(error)")
            return
        }
        #expect(failure.kind == .providerError && failure.retryable && failure.providerCode == "server_error")
    }

    @Test func anthropicEventsBecomeDeltasAndTheWholeAnswer() throws {
        var reader = AnthropicClient.StreamReader(includeRaw: false)
        let events: [(String, String)] = [
            ("message_start", #"{"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":12,"output_tokens":1}}}"#),
            ("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#),
            ("ping", #"{"type":"ping"}"#),
            ("content_block_start", #"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"1}"}}"#),
            ("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":20}}"#),
            ("message_stop", #"{"type":"message_stop"}"#),
        ]
        var deltas: [StreamDelta] = []
        for (name, data) in events {
            if let delta = try reader.read(SSEEvent(event: name, data: data)).get() { deltas.append(delta) }
        }
        #expect(deltas.compactMap(\.text) == ["Hi"])
        #expect(deltas.flatMap(\.toolCalls) == [ToolCallDelta(index: 0, id: "toolu_1", name: "f", arguments: ""),
                                                 ToolCallDelta(index: 0, arguments: "{\"a\":"), ToolCallDelta(index: 0, arguments: "1}")])
        let value = try reader.attempt(ProviderConfig.Streamed(), apiKey: nil).result.get()
        #expect(value.text == "Hi" && value.finishReason == "tool_calls" && value.model == "claude-x")
        #expect(value.usage == Usage(inputTokens: 12, outputTokens: 20))
        #expect(value.toolCalls == [["id": "toolu_1", "type": "function", "function": ["name": "f", "arguments": "{\"a\":1}"]]])
    }

    @Test func anthropicAnOverloadedErrorEventIsRetried() {
        var reader = AnthropicClient.StreamReader(includeRaw: false)
        let result = reader.read(SSEEvent(event: "error", data: #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#))
        guard case .failure(let error) = result else {
            Issue.record("\(result)")
            return
        }
        #expect(error.kind == .overloaded && error.retryable)
    }

    @Test func deltasMergeTextAndJoinOneCallsFragments() {
        var delta = StreamDelta(text: "a", toolCalls: [ToolCallDelta(index: 0, id: "c", name: "f", arguments: "{")])
        delta.merge(StreamDelta(text: "b", toolCalls: [ToolCallDelta(index: 0, arguments: "}"), ToolCallDelta(index: 1, id: "d", name: "g")]))
        #expect(delta.text == "ab")
        #expect(delta.toolCalls == [ToolCallDelta(index: 0, id: "c", name: "f", arguments: "{}"), ToolCallDelta(index: 1, id: "d", name: "g")])
    }
}
