import FakeLLMTestSupport
import Testing
import VolleyJSON

@testable import FakeLLM

/// A legacy completions body; `prompt` is raw JSON text.
func completionsBody(
    _ prompt: String = #""hello there world""#, model: String = "gpt-3.5-turbo-instruct", maxTokens: Int? = nil,
    extra: String = ""
) -> String {
    var fields = ["\"model\":\"\(model)\"", "\"prompt\":\(prompt)"]
    if let maxTokens { fields.append("\"max_tokens\":\(maxTokens)") }
    if !extra.isEmpty { fields.append(extra) }
    return "{" + fields.joined(separator: ",") + "}"
}

@Suite("POST /v1/completions", .timeLimit(.minutes(1)))
struct CompletionsEndpointTests {
    /// "hello there world": 17 characters → 5 prompt tokens.
    static let promptTokens = 5

    @Test func answerHasOpenAIsShapeFieldByField() async throws {
        try await withFakeServer { server in
            let response = try await server.request("/v1/completions", body: completionsBody())
            #expect(response.status == 200)
            #expect(response.ended)
            #expect(response.header("content-type") == "application/json")
            #expect(response.header("x-request-id")?.hasPrefix("req_") == true)
            #expect(response.header("openai-organization") == "org-fake")
            let body = response.json
            #expect(body.objectValue?.keys == ["id", "object", "created", "model", "system_fingerprint", "choices", "usage"])
            #expect(body["id"]?.stringValue?.hasPrefix("cmpl-") == true)
            #expect(body["object"]?.stringValue == "text_completion")
            #expect((body["created"]?.intValue ?? 0) > 1_600_000_000)
            #expect(body["model"]?.stringValue == "gpt-3.5-turbo-instruct")
            let choices = body["choices"]?.arrayValue ?? []
            #expect(choices.count == 1)
            #expect(choices.first?.objectValue?.keys == ["text", "index", "logprobs", "finish_reason"])
            #expect(choices.first?["text"]?.stringValue == OpenAIEndpointTests.expectedText)
            #expect(choices.first?["index"]?.intValue == 0)
            #expect(choices.first?["logprobs"] == .null)
            #expect(choices.first?["finish_reason"]?.stringValue == "stop")
            #expect(body["usage"]?.objectValue?.keys == ["prompt_tokens", "completion_tokens", "total_tokens"])
            #expect(body["usage"]?["prompt_tokens"]?.intValue == Self.promptTokens)
            #expect(body["usage"]?["completion_tokens"]?.intValue == 16)
            #expect(body["usage"]?["total_tokens"]?.intValue == Self.promptTokens + 16)
        }
    }

    @Test func maxTokensCutsWithLength() async throws {
        try await withFakeServer { server in
            let response = try await server.request("/v1/completions", body: completionsBody(maxTokens: 3))
            let choice = response.json["choices"]?.arrayValue?.first
            #expect(choice?["text"]?.stringValue == "Echo: hello there")
            #expect(choice?["finish_reason"]?.stringValue == "length")
            #expect(response.json["usage"]?["completion_tokens"]?.intValue == 3)
        }
    }

    @Test func severalPromptsGetAChoiceEach() async throws {
        try await withFakeServer { server in
            let response = try await server.request(
                "/v1/completions", body: completionsBody(#"["one two","three"]"#, maxTokens: 3))
            let choices = response.json["choices"]?.arrayValue ?? []
            #expect(choices.compactMap { $0["index"]?.intValue } == [0, 1])
            #expect(choices.compactMap { $0["text"]?.stringValue } == ["Echo: one two", "Echo: three lorem"])
            #expect(response.json["usage"]?["prompt_tokens"]?.intValue == 2 + 2)
            #expect(response.json["usage"]?["completion_tokens"]?.intValue == 6)

            let tokens = try await server.request("/v1/completions", body: completionsBody("[1,2,3]", maxTokens: 2))
            #expect(tokens.json["choices"]?.arrayValue?.first?["text"]?.stringValue == "Echo: lorem")
            #expect(tokens.json["usage"]?["prompt_tokens"]?.intValue == 3)
            let lists = try await server.request("/v1/completions", body: completionsBody("[[1,2],[3]]", maxTokens: 1))
            #expect(lists.json["choices"]?.arrayValue?.count == 2)

            let empty = try await server.request("/v1/completions", body: completionsBody(#""""#, maxTokens: 1))
            #expect(empty.status == 200)  // an empty prompt is allowed here, unlike embeddings
            #expect(empty.json["usage"]?["prompt_tokens"]?.intValue == 0)
        }
    }

    @Test func streamingSendsPiecesFinishUsageDone() async throws {
        try await withFakeServer { server in
            let response = try await server.request(
                "/v1/completions",
                body: completionsBody(maxTokens: 3, extra: #""stream":true,"stream_options":{"include_usage":true}"#))
            #expect(response.status == 200)
            #expect(response.header("content-type")?.hasPrefix("text/event-stream") == true)
            #expect(response.events.last?.data == "[DONE]")
            let chunks = response.events.dropLast().map { (try? JSONParser.parse($0.data)) ?? .null }
            #expect(chunks.count == 5)  // 3 pieces, finish, usage
            #expect(chunks.allSatisfy { $0["object"]?.stringValue == "text_completion" })
            #expect(chunks.allSatisfy { $0["id"]?.stringValue?.hasPrefix("cmpl-") == true })
            #expect(chunks[0].objectValue?.keys == ["id", "object", "created", "choices", "model", "system_fingerprint", "usage"])
            let choices = chunks.compactMap { $0["choices"]?.arrayValue?.first }
            #expect(choices.compactMap { $0["text"]?.stringValue }.joined() == "Echo: hello there")
            #expect(choices[0]["finish_reason"] == .null)
            #expect(choices[3]["finish_reason"]?.stringValue == "length")
            #expect(chunks[0]["usage"] == .null)
            #expect(chunks[4]["choices"]?.arrayValue?.isEmpty == true)
            #expect(chunks[4]["usage"]?["completion_tokens"]?.intValue == 3)
            #expect(chunks[4]["usage"]?["prompt_tokens"]?.intValue == Self.promptTokens)

            let plain = try await server.request("/v1/completions", body: completionsBody(maxTokens: 1, extra: #""stream":true"#))
            let plainChunks = plain.events.dropLast().map { (try? JSONParser.parse($0.data)) ?? .null }
            #expect(plainChunks.count == 2)
            #expect(plainChunks.allSatisfy { $0["usage"] == nil })
        }
    }

    @Test func invalidRequestsAnswer400() async throws {
        try await withFakeServer { server in
            let missing = try await server.request("/v1/completions", body: #"{"model":"gpt-3.5-turbo-instruct"}"#)
            #expect(missing.status == 400)
            #expect(missing.json["error"]?["message"]?.stringValue == "Missing required parameter: 'prompt'.")
            #expect(missing.json["error"]?["param"]?.stringValue == "prompt")
            for prompt in ["[]", "42", #"["a",1]"#, #"{"a":1}"#, "[[]]"] {
                let invalid = try await server.request("/v1/completions", body: completionsBody(prompt))
                #expect(invalid.status == 400, "prompt \(prompt)")
                #expect(invalid.json["error"]?["type"]?.stringValue == "invalid_request_error")
                #expect(invalid.json["error"]?["message"]?.stringValue?.hasPrefix("'$.prompt' is invalid.") == true)
            }
            let zero = try await server.request("/v1/completions", body: completionsBody(maxTokens: 0))
            #expect(zero.status == 400)
            #expect(zero.json["error"]?["param"]?.stringValue == "max_tokens")
            let noModel = try await server.request("/v1/completions", body: #"{"prompt":"x"}"#)
            #expect(noModel.json["error"]?["param"]?.stringValue == "model")
        }
    }

    @Test func scriptingAppliesAsOnChat() async throws {
        try await withFakeServer { server in
            let scripted = try await server.request(
                "/v1/completions", headers: [("x-fake-reply", "exact words")],
                body: completionsBody(extra: #""fake":{"latency_ms":5}"#))
            #expect(scripted.json["choices"]?.arrayValue?.first?["text"]?.stringValue == "exact words")
            #expect(scripted.json["usage"]?["completion_tokens"]?.intValue == 2)
            #expect(scripted.header("openai-processing-ms") == "5")

            let limited = try await server.request(
                "/v1/completions", body: completionsBody(extra: #""fake":{"mode":"rate_limit"}"#))
            #expect(limited.status == 429)
            #expect(limited.json["error"]?["code"]?.stringValue == "rate_limit_exceeded")
            #expect(limited.header("retry-after-ms") == "1000")

            let failed = try await server.request(
                "/v1/completions", headers: [("x-fake-status", "500"), ("x-fake-should-retry", "false")],
                body: completionsBody())
            #expect(failed.status == 500)
            #expect(failed.json["error"]?["type"]?.stringValue == "server_error")
            #expect(failed.header("x-should-retry") == "false")

            let cut = try await server.request(
                "/v1/completions", headers: [("x-fake-mode", "cut_stream")], body: completionsBody(extra: #""stream":true"#))
            #expect(cut.ended)
            #expect(!cut.text.contains("[DONE]"))

            let stats = try await server.waitForStats { $0.records.count == 4 && $0.inFlight == 0 }
            #expect(stats.records.map(\.path) == Array(repeating: "/v1/completions", count: 4))
            #expect(stats.records.map(\.status) == [200, 429, 500, 200])
        }
    }

    @Test func tpmChargesPromptPlusMaxTokensPerPrompt() async throws {
        try await withFakeServer({
            $0.tokensPerMinute = 10
            $0.burstSeconds = 180
        }) { server in
            // Two prompts of 1 token each, 5 max tokens each: 2 + 10 = 12 of 30.
            let first = try await server.request("/v1/completions", body: completionsBody(#"["ab","cd"]"#, maxTokens: 5))
            #expect(first.status == 200)
            #expect(first.header("x-ratelimit-limit-tokens") == "10")
            #expect(first.header("x-ratelimit-remaining-tokens") == "18")
            let stats = try await server.waitForStats { $0.records.count == 1 }
            #expect(stats.inputTokens == 2)
            #expect(stats.outputTokens == 10)
        }
    }
}
