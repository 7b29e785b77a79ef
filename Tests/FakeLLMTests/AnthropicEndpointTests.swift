import FakeLLMTestSupport
import Testing
import VolleyJSON

@testable import FakeLLM

@Suite("POST /v1/messages", .timeLimit(.minutes(1)))
struct AnthropicEndpointTests {
    @Test func nonStreamingBodyIsRealistic() async throws {
        try await withFakeServer { server in
            let response = try await server.request("/v1/messages", body: Bodies.anthropic())
            #expect(response.status == 200)
            #expect(response.header("request-id")?.hasPrefix("req_") == true)
            let body = response.json
            #expect(body["id"]?.stringValue?.hasPrefix("msg_") == true)
            #expect(body["type"]?.stringValue == "message")
            #expect(body["role"]?.stringValue == "assistant")
            #expect(body["model"]?.stringValue == "claude-haiku-4-5")
            let content = body["content"]?.arrayValue ?? []
            #expect(content.count == 1)
            #expect(content.first?["type"]?.stringValue == "text")
            #expect(content.first?["text"]?.stringValue == OpenAIEndpointTests.expectedText)
            #expect(body["stop_reason"]?.stringValue == "end_turn")
            #expect(body["stop_sequence"] == .null)
            // system "be brief" counts: 25 characters → 7 tokens.
            #expect(body["usage"]?["input_tokens"]?.intValue == 7)
            #expect(body["usage"]?["output_tokens"]?.intValue == 16)
        }
    }

    @Test func maxTokensGivesMaxTokensStopReason() async throws {
        try await withFakeServer { server in
            let response = try await server.request("/v1/messages", body: Bodies.anthropic(maxTokens: 2))
            #expect(response.json["stop_reason"]?.stringValue == "max_tokens")
            #expect(response.json["content"]?.arrayValue?.first?["text"]?.stringValue == "Echo: hello")
            #expect(response.json["usage"]?["output_tokens"]?.intValue == 2)
        }
    }

    @Test func streamingEventSequence() async throws {
        try await withFakeServer { server in
            let response = try await server.request("/v1/messages", body: Bodies.anthropic(maxTokens: 3, stream: true))
            #expect(response.ended)
            #expect(response.header("content-type")?.hasPrefix("text/event-stream") == true)
            let names = response.events.map { $0.event ?? "" }
            #expect(
                names == [
                    "message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
                    "content_block_delta", "content_block_stop", "message_delta", "message_stop",
                ])
            let data = response.events.map { (try? JSONParser.parse($0.data)) ?? .null }
            #expect(zip(names, data).allSatisfy { $0.0 == $0.1["type"]?.stringValue })
            #expect(data[0]["message"]?["usage"]?["input_tokens"]?.intValue == 7)
            let text = data.compactMap { $0["delta"]?["text"]?.stringValue }.joined()
            #expect(text == "Echo: hello there")
            #expect(data[3]["delta"]?["type"]?.stringValue == "text_delta")
            #expect(data[7]["delta"]?["stop_reason"]?.stringValue == "max_tokens")
            #expect(data[7]["usage"]?["output_tokens"]?.intValue == 3)
        }
    }

    static let tools = #""tools":[{"name":"lookup","description":"d","input_schema":{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}}]"#

    @Test func scriptedToolUse() async throws {
        try await withFakeServer { server in
            let response = try await server.request(
                "/v1/messages", body: Bodies.anthropic(fake: #"{"tool_call":true}"#, extra: Self.tools))
            #expect(response.json["stop_reason"]?.stringValue == "tool_use")
            let block = response.json["content"]?.arrayValue?.first
            #expect(block?["type"]?.stringValue == "tool_use")
            #expect(block?["id"]?.stringValue?.hasPrefix("toolu_") == true)
            #expect(block?["name"]?.stringValue == "lookup")
            #expect(block?["input"]?.jsonString == #"{"q":"fake"}"#)

            let streamed = try await server.request(
                "/v1/messages", headers: [("x-fake-tool-call", "1")], body: Bodies.anthropic(stream: true, extra: Self.tools))
            let data = streamed.events.map { (try? JSONParser.parse($0.data)) ?? .null }
            #expect(data[1]["content_block"]?["type"]?.stringValue == "tool_use")
            #expect(data.compactMap { $0["delta"]?["partial_json"]?.stringValue }.joined() == #"{"q":"fake"}"#)
            #expect(streamed.events.last?.event == "message_stop")
        }
    }

    @Test(arguments: [
        (529, "overloaded_error"), (500, "api_error"), (429, "rate_limit_error"), (401, "authentication_error"),
        (404, "not_found_error"), (400, "invalid_request_error"), (503, "api_error"),
    ])
    func errorShape(status: Int, type: String) async throws {
        try await withFakeServer { server in
            let response = try await server.request(
                "/v1/messages", headers: [("x-fake-status", String(status))], body: Bodies.anthropic())
            #expect(response.status == status)
            #expect(response.json["type"]?.stringValue == "error")
            #expect(response.json["error"]?["type"]?.stringValue == type)
            #expect(response.json["error"]?["message"]?.stringValue?.isEmpty == false)
        }
    }

    @Test func missingMaxTokensIsInvalidRequest() async throws {
        try await withFakeServer { server in
            let response = try await server.request(
                "/v1/messages", body: #"{"model":"m","messages":[{"role":"user","content":"x"}]}"#)
            #expect(response.status == 400)
            #expect(response.json["error"]?["type"]?.stringValue == "invalid_request_error")
            let invalidJSON = try await server.request("/v1/messages", body: "not json")
            #expect(invalidJSON.status == 400)
            #expect(invalidJSON.json["type"]?.stringValue == "error")
        }
    }
}
