import FakeLLMTestSupport
import NIOHTTP1
import Testing
import VolleyJSON

@testable import FakeLLM

@Suite("POST /v1/chat/completions", .timeLimit(.minutes(1)))
struct OpenAIEndpointTests {
    /// "be brief" + "hello there world" = 25 characters → 7 prompt tokens.
    static let promptTokens = 7
    static let expectedText =
        "Echo: hello there world lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"

    @Test func nonStreamingBodyIsRealistic() async throws {
        try await withFakeServer { server in
            let response = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(response.status == 200)
            #expect(response.ended)
            #expect(response.header("content-type") == "application/json")
            #expect(response.header("content-length") == String(response.body.count))
            #expect(response.header("x-request-id")?.hasPrefix("req_") == true)
            #expect(response.header("x-ratelimit-limit-requests") == nil)  // no limit configured
            let body = response.json
            #expect(body["id"]?.stringValue?.hasPrefix("chatcmpl-") == true)
            #expect(body["object"]?.stringValue == "chat.completion")
            #expect((body["created"]?.intValue ?? 0) > 1_600_000_000)
            #expect(body["model"]?.stringValue == "gpt-4o-mini")
            #expect(body["system_fingerprint"]?.stringValue?.hasPrefix("fp_") == true)
            let choice = body["choices"]?.arrayValue?.first
            #expect(choice?["index"]?.intValue == 0)
            #expect(choice?["message"]?["role"]?.stringValue == "assistant")
            #expect(choice?["message"]?["content"]?.stringValue == Self.expectedText)
            #expect(choice?["message"]?["refusal"] == .null)
            #expect(choice?["logprobs"] == .null)
            #expect(choice?["finish_reason"]?.stringValue == "stop")
            let usage = body["usage"]
            #expect(usage?["prompt_tokens"]?.intValue == Self.promptTokens)
            #expect(usage?["completion_tokens"]?.intValue == 16)
            #expect(usage?["total_tokens"]?.intValue == Self.promptTokens + 16)
            #expect(usage?["prompt_tokens_details"]?["cached_tokens"]?.intValue == 0)
            #expect(usage?["completion_tokens_details"]?["reasoning_tokens"]?.intValue == 0)
        }
    }

    @Test func maxTokensBelowOutputGivesLength() async throws {
        try await withFakeServer { server in
            let response = try await server.request("/v1/chat/completions", body: Bodies.openAI(maxTokens: 3))
            let choice = response.json["choices"]?.arrayValue?.first
            #expect(choice?["message"]?["content"]?.stringValue == "Echo: hello there")
            #expect(choice?["finish_reason"]?.stringValue == "length")
            #expect(response.json["usage"]?["completion_tokens"]?.intValue == 3)
        }
    }

    @Test func configuredOutputTokensAndScriptedReply() async throws {
        try await withFakeServer({ $0.defaultOutputTokens = 2 }) { server in
            let short = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(short.json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "Echo: hello")
            let scripted = try await server.request(
                "/v1/chat/completions", headers: [("x-fake-reply", "exact words here")],
                body: Bodies.openAI(fake: #"{"output_tokens":40}"#))
            #expect(scripted.json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "exact words here")
            #expect(scripted.json["usage"]?["completion_tokens"]?.intValue == 3)
            let counted = try await server.request(
                "/v1/chat/completions", body: Bodies.openAI(fake: #"{"output_tokens":5}"#))
            #expect(counted.json["usage"]?["completion_tokens"]?.intValue == 5)
        }
    }

    @Test func streamingSendsRoleContentFinishUsageDone() async throws {
        try await withFakeServer { server in
            let response = try await server.request(
                "/v1/chat/completions", body: Bodies.openAI(stream: true, includeUsage: true))
            #expect(response.status == 200)
            #expect(response.ended)
            #expect(response.header("content-type")?.hasPrefix("text/event-stream") == true)
            #expect(response.header("transfer-encoding") == "chunked")
            #expect(response.header("content-length") == nil)
            #expect(response.text.hasSuffix("data: [DONE]\n\n"))
            let events = response.events
            #expect(events.allSatisfy { $0.event == nil })
            #expect(events.last?.data == "[DONE]")
            let chunks = events.dropLast().map { (try? JSONParser.parse($0.data)) ?? .null }
            // role, 16 content deltas, finish, usage
            #expect(chunks.count == 19)
            #expect(chunks.allSatisfy { $0["object"]?.stringValue == "chat.completion.chunk" })
            let deltas = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"] }
            #expect(deltas.first?["role"]?.stringValue == "assistant")
            let text = deltas.compactMap { $0["content"]?.stringValue }.joined()
            #expect(text == Self.expectedText)
            let finish = chunks[17]["choices"]?.arrayValue?.first
            #expect(finish?["finish_reason"]?.stringValue == "stop")
            #expect(finish?["delta"] == .object([:]))
            let usageChunk = chunks[18]
            #expect(usageChunk["choices"]?.arrayValue?.isEmpty == true)
            #expect(usageChunk["usage"]?["prompt_tokens"]?.intValue == Self.promptTokens)
            #expect(usageChunk["usage"]?["completion_tokens"]?.intValue == 16)
            #expect(chunks[1]["usage"] == .null)
        }
    }

    @Test func streamingWithoutUsageOptionHasNoUsageChunk() async throws {
        try await withFakeServer { server in
            let response = try await server.request(
                "/v1/chat/completions", body: Bodies.openAI(maxTokens: 2, stream: true))
            let chunks = response.events.dropLast().map { (try? JSONParser.parse($0.data)) ?? .null }
            #expect(chunks.count == 4)  // role, 2 deltas, finish
            #expect(chunks.allSatisfy { $0["usage"] == nil })
            #expect(chunks[3]["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue == "length")
            #expect(response.events.last?.data == "[DONE]")
        }
    }

    static let tools =
        #""tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]"#

    @Test func scriptedToolCall() async throws {
        try await withFakeServer { server in
            let response = try await server.request(
                "/v1/chat/completions", headers: [("x-fake-tool-call", "true")], body: Bodies.openAI(extra: Self.tools))
            let choice = response.json["choices"]?.arrayValue?.first
            #expect(choice?["finish_reason"]?.stringValue == "tool_calls")
            #expect(choice?["message"]?["content"] == .null)
            let call = choice?["message"]?["tool_calls"]?.arrayValue?.first
            #expect(call?["id"]?.stringValue?.hasPrefix("call_") == true)
            #expect(call?["type"]?.stringValue == "function")
            #expect(call?["function"]?["name"]?.stringValue == "get_weather")
            #expect(call?["function"]?["arguments"]?.stringValue == #"{"city":"fake"}"#)

            let streamed = try await server.request(
                "/v1/chat/completions", body: Bodies.openAI(stream: true, fake: #"{"tool_call":true}"#, extra: Self.tools))
            let chunks = streamed.events.dropLast().map { (try? JSONParser.parse($0.data)) ?? .null }
            let arguments = chunks.compactMap {
                $0["choices"]?.arrayValue?.first?["delta"]?["tool_calls"]?.arrayValue?.first?["function"]?["arguments"]?
                    .stringValue
            }.joined()
            #expect(arguments == #"{"city":"fake"}"#)
            #expect(chunks.last?["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue == "tool_calls")

            // Without tools in the request, tool_call has nothing to call: plain text.
            let plain = try await server.request(
                "/v1/chat/completions", headers: [("x-fake-tool-call", "true")], body: Bodies.openAI())
            #expect(plain.json["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue == "stop")
        }
    }

    @Test func scriptedStatusesUseOpenAIErrorShape() async throws {
        try await withFakeServer { server in
            let failure = try await server.request(
                "/v1/chat/completions",
                headers: [("x-fake-status", "500"), ("x-fake-should-retry", "true"), ("x-fake-retry-after-ms", "250")],
                body: Bodies.openAI())
            #expect(failure.status == 500)
            #expect(failure.json["error"]?["type"]?.stringValue == "server_error")
            #expect(failure.json["error"]?["param"] == .null)
            #expect(failure.json["error"]?["code"] == .null)
            #expect(failure.json["error"]?["message"]?.stringValue?.isEmpty == false)
            #expect(failure.header("x-should-retry") == "true")
            #expect(failure.header("retry-after-ms") == "250")
            #expect(failure.header("retry-after") == nil)

            let throttled = try await server.request(
                "/v1/chat/completions", body: Bodies.openAI(fake: #"{"status":429,"retry_after":"2"}"#))
            #expect(throttled.status == 429)
            #expect(throttled.json["error"]?["code"]?.stringValue == "rate_limit_exceeded")
            #expect(throttled.header("retry-after") == "2")
        }
    }

    @Test func bodyScriptWinsOverHeaders() async throws {
        try await withFakeServer { server in
            let response = try await server.request(
                "/v1/chat/completions", headers: [("x-fake-status", "503"), ("x-fake-latency-ms", "9000")],
                body: Bodies.openAI(fake: #"{"status":200,"latency_ms":1}"#))
            #expect(response.status == 200)
            #expect(response.header("openai-processing-ms") == "1")
        }
    }

    @Test func failRateDrawsFromTheSeed() async throws {
        try await withFakeServer { server in
            let always = try await server.request(
                "/v1/chat/completions", headers: [("x-fake-fail-rate", "1"), ("x-fake-status", "502")], body: Bodies.openAI())
            #expect(always.status == 502)
            let defaultStatus = try await server.request(
                "/v1/chat/completions", body: Bodies.openAI(fake: #"{"fail_rate":1}"#))
            #expect(defaultStatus.status == 500)
            let never = try await server.request(
                "/v1/chat/completions", headers: [("x-fake-fail-rate", "0"), ("x-fake-status", "502")], body: Bodies.openAI())
            #expect(never.status == 200)
        }
        try await withFakeServer({ $0.failureRate = 1; $0.failureStatus = 503 }) { server in
            let response = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(response.status == 503)
            #expect(response.json["error"]?["type"]?.stringValue == "server_error")
        }
    }

    @Test func badRequestsAnswer400And404() async throws {
        try await withFakeServer { server in
            let invalidJSON = try await server.request("/v1/chat/completions", body: #"{"model": "#)
            #expect(invalidJSON.status == 400)
            #expect(invalidJSON.json["error"]?["type"]?.stringValue == "invalid_request_error")

            let noModel = try await server.request(
                "/v1/chat/completions", body: #"{"messages":[{"role":"user","content":"x"}]}"#)
            #expect(noModel.status == 400)
            #expect(noModel.json["error"]?["param"]?.stringValue == "model")

            let badScript = try await server.request(
                "/v1/chat/completions", headers: [("x-fake-mode", "explode")], body: Bodies.openAI())
            #expect(badScript.status == 400)
            #expect(badScript.json["error"]?["message"]?.stringValue?.contains("explode") == true)

            let unknown = try await server.request("/v1/nothing", body: "{}")
            #expect(unknown.status == 404)
            #expect(unknown.json["error"]?["message"]?.stringValue == "Invalid URL (POST /v1/nothing)")
            #expect(unknown.json["error"]?["type"]?.stringValue == "invalid_request_error")

            let wrongMethod = try await server.request(.GET, "/v1/chat/completions")
            #expect(wrongMethod.status == 404)

            let stats = server.stats()
            #expect(stats.statusCounts[400] == 3)
            #expect(stats.statusCounts[404] == 2)
        }
    }

    @Test func modelsList() async throws {
        try await withFakeServer { server in
            let response = try await server.request(.GET, "/v1/models")
            #expect(response.status == 200)
            #expect(response.json["object"]?.stringValue == "list")
            let ids = response.json["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            #expect(ids.contains("gpt-4o-mini"))
        }
    }

    @Test func expectContinueIsAnswered() async throws {
        try await withFakeServer { server in
            try await TestConnection.with(port: server.port) { connection in
                let body = Bodies.openAI(maxTokens: 1)
                try await connection.sendHead(
                    "/v1/chat/completions",
                    headers: [("expect", "100-continue"), ("content-length", String(body.utf8.count))])
                let interim = try await connection.nextPart()
                guard case .head(let head) = interim else {
                    Issue.record("expected 100 Continue, got \(String(describing: interim))")
                    return
                }
                #expect(head.status == .continue)
                try await connection.sendBodyAndEnd(body)
                let response = await connection.readResponse()
                #expect(response.status == 200)
                #expect(response.json["usage"]?["completion_tokens"]?.intValue == 1)
            }
        }
    }
}
