import FakeLLMTestSupport
import Testing
import VolleyJSON

@testable import FakeLLM

/// A Responses API body; `input` is raw JSON text.
func responsesBody(
    _ input: String = #""hello there world""#, model: String = "gpt-4.1-mini", instructions: String? = "be brief",
    maxOutputTokens: Int? = nil, stream: Bool = false, fake: String? = nil, extra: String = ""
) -> String {
    var fields = ["\"model\":\"\(model)\"", "\"input\":\(input)"]
    if let instructions { fields.append("\"instructions\":\"\(instructions)\"") }
    if let maxOutputTokens { fields.append("\"max_output_tokens\":\(maxOutputTokens)") }
    if stream { fields.append("\"stream\":true") }
    if let fake { fields.append("\"fake\":\(fake)") }
    if !extra.isEmpty { fields.append(extra) }
    return "{" + fields.joined(separator: ",") + "}"
}

@Suite("POST /v1/responses", .timeLimit(.minutes(1)))
struct ResponsesEndpointTests {
    /// "be brief" + "hello there world": 25 characters → 7 input tokens, as chat counts them.
    static let inputTokens = OpenAIEndpointTests.promptTokens

    static let responseKeys = [
        "id", "object", "created_at", "status", "background", "error", "incomplete_details", "instructions",
        "max_output_tokens", "max_tool_calls", "model", "output", "parallel_tool_calls", "previous_response_id",
        "reasoning", "service_tier", "store", "temperature", "text", "tool_choice", "tools", "top_logprobs", "top_p",
        "truncation", "usage", "user", "metadata",
    ]

    static let tools =
        #""tools":[{"type":"web_search_preview"},{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]"#

    @Test func answerHasOpenAIsShapeFieldByField() async throws {
        try await withFakeServer { server in
            let response = try await server.request("/v1/responses", body: responsesBody())
            #expect(response.status == 200)
            #expect(response.ended)
            #expect(response.header("content-type") == "application/json")
            #expect(response.header("x-request-id")?.hasPrefix("req_") == true)
            #expect(response.header("openai-processing-ms") == "0")
            let body = response.json
            #expect(body.objectValue?.keys == Self.responseKeys)
            #expect(body["id"]?.stringValue?.hasPrefix("resp_") == true)
            #expect(body["object"]?.stringValue == "response")
            #expect((body["created_at"]?.intValue ?? 0) > 1_600_000_000)
            #expect(body["status"]?.stringValue == "completed")
            #expect(body["background"] == .bool(false))
            #expect(body["error"] == .null)
            #expect(body["incomplete_details"] == .null)
            #expect(body["instructions"]?.stringValue == "be brief")
            #expect(body["max_output_tokens"] == .null)
            #expect(body["model"]?.stringValue == "gpt-4.1-mini")
            #expect(body["parallel_tool_calls"] == .bool(true))
            #expect(body["previous_response_id"] == .null)
            #expect(body["store"] == .bool(true))
            #expect(body["temperature"]?.doubleValue == 1)
            #expect(body["text"]?["format"]?["type"]?.stringValue == "text")
            #expect(body["tool_choice"]?.stringValue == "auto")
            #expect(body["tools"] == .array([]))
            #expect(body["truncation"]?.stringValue == "disabled")
            #expect(body["user"] == .null)
            #expect(body["metadata"] == .object([:]))

            let output = body["output"]?.arrayValue ?? []
            #expect(output.count == 1)
            let message = output.first
            #expect(message?.objectValue?.keys == ["type", "id", "status", "role", "content"])
            #expect(message?["type"]?.stringValue == "message")
            #expect(message?["id"]?.stringValue?.hasPrefix("msg_") == true)
            #expect(message?["status"]?.stringValue == "completed")
            #expect(message?["role"]?.stringValue == "assistant")
            let part = message?["content"]?.arrayValue?.first
            #expect(message?["content"]?.arrayValue?.count == 1)
            #expect(part?.objectValue?.keys == ["type", "text", "annotations"])
            #expect(part?["type"]?.stringValue == "output_text")
            #expect(part?["text"]?.stringValue == OpenAIEndpointTests.expectedText)
            #expect(part?["annotations"] == .array([]))

            let usage = body["usage"]
            #expect(
                usage?.objectValue?.keys
                    == ["input_tokens", "input_tokens_details", "output_tokens", "output_tokens_details", "total_tokens"])
            #expect(usage?["input_tokens"]?.intValue == Self.inputTokens)
            #expect(usage?["output_tokens"]?.intValue == 16)
            #expect(usage?["total_tokens"]?.intValue == Self.inputTokens + 16)
            #expect(usage?["input_tokens_details"]?["cached_tokens"]?.intValue == 0)
            #expect(usage?["output_tokens_details"]?["reasoning_tokens"]?.intValue == 0)
        }
    }

    @Test func inputItemsCountLikeMessages() async throws {
        try await withFakeServer { server in
            let items = try await server.request(
                "/v1/responses",
                body: responsesBody(
                    #"[{"role":"developer","content":"be brief"},{"type":"message","role":"user","content":[{"type":"input_text","text":"hello there world"}]}]"#,
                    instructions: nil))
            #expect(items.status == 200)
            #expect(items.json["usage"]?["input_tokens"]?.intValue == Self.inputTokens)
            let text = items.json["output"]?.arrayValue?.first?["content"]?.arrayValue?.first?["text"]?.stringValue
            #expect(text == OpenAIEndpointTests.expectedText)
            #expect(items.json["instructions"] == .null)

            // A function call's arguments and its output count too: 14 + 12 characters → 7 tokens.
            let toolRound = try await server.request(
                "/v1/responses",
                body: responsesBody(
                    #"[{"type":"function_call","call_id":"call_1","name":"f","arguments":"{\"city\":\"x\"}12"},{"type":"function_call_output","call_id":"call_1","output":"sunny, 20 C."}]"#,
                    instructions: nil))
            #expect(toolRound.json["usage"]?["input_tokens"]?.intValue == 7)

            let echoed = try await server.request(
                "/v1/responses",
                body: responsesBody(extra: #""temperature":0.2,"store":false,"metadata":{"k":"v"},"previous_response_id":"resp_x""#))
            #expect(echoed.json["temperature"]?.doubleValue == 0.2)
            #expect(echoed.json["store"] == .bool(false))
            #expect(echoed.json["metadata"]?["k"]?.stringValue == "v")
            #expect(echoed.json["previous_response_id"]?.stringValue == "resp_x")
        }
    }

    @Test func maxOutputTokensMakesItIncomplete() async throws {
        try await withFakeServer { server in
            let response = try await server.request(
                "/v1/responses", body: responsesBody(maxOutputTokens: 16, fake: #"{"output_tokens":20}"#))
            #expect(response.status == 200)
            #expect(response.json["status"]?.stringValue == "incomplete")
            #expect(response.json["incomplete_details"]?["reason"]?.stringValue == "max_output_tokens")
            #expect(response.json["max_output_tokens"]?.intValue == 16)
            let message = response.json["output"]?.arrayValue?.first
            #expect(message?["status"]?.stringValue == "incomplete")
            #expect(response.json["usage"]?["output_tokens"]?.intValue == 16)

            let small = try await server.request("/v1/responses", body: responsesBody(maxOutputTokens: 15))
            #expect(small.status == 400)
            #expect(small.json["error"]?["param"]?.stringValue == "max_output_tokens")
            #expect(
                small.json["error"]?["message"]?.stringValue
                    == "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 15 instead.")
        }
    }

    @Test func scriptedToolCallIsAFunctionCallItem() async throws {
        try await withFakeServer { server in
            let response = try await server.request(
                "/v1/responses", headers: [("x-fake-tool-call", "true")], body: responsesBody(extra: Self.tools))
            #expect(response.json["status"]?.stringValue == "completed")
            let output = response.json["output"]?.arrayValue ?? []
            #expect(output.count == 1)
            let call = output.first
            #expect(call?.objectValue?.keys == ["type", "id", "call_id", "name", "arguments", "status"])
            #expect(call?["type"]?.stringValue == "function_call")
            #expect(call?["id"]?.stringValue?.hasPrefix("fc_") == true)
            #expect(call?["call_id"]?.stringValue?.hasPrefix("call_") == true)
            #expect(call?["name"]?.stringValue == "get_weather")
            #expect(call?["arguments"]?.stringValue == #"{"city":"fake"}"#)
            #expect(call?["status"]?.stringValue == "completed")
            #expect(response.json["tools"]?.arrayValue?.count == 2)  // the request's tools, repeated
            // As on chat: (11 + 15 characters) / 4 rounded up, plus one.
            #expect(response.json["usage"]?["output_tokens"]?.intValue == 8)

            // Chat's nested tool shape is taken too.
            let nested = try await server.request(
                "/v1/responses",
                body: responsesBody(fake: #"{"tool_call":true}"#, extra: OpenAIEndpointTests.tools))
            #expect(nested.json["output"]?.arrayValue?.first?["name"]?.stringValue == "get_weather")

            // No tool to call: plain text, as on chat.
            let plain = try await server.request(
                "/v1/responses", headers: [("x-fake-tool-call", "true")], body: responsesBody())
            #expect(plain.json["output"]?.arrayValue?.first?["type"]?.stringValue == "message")
        }
    }

    @Test func streamingSendsOpenAIsEvents() async throws {
        try await withFakeServer { server in
            let response = try await server.request(
                "/v1/responses", body: responsesBody(stream: true, fake: #"{"output_tokens":3}"#))
            #expect(response.status == 200)
            #expect(response.ended)
            #expect(response.header("content-type")?.hasPrefix("text/event-stream") == true)
            #expect(!response.text.contains("[DONE]"))
            let events = response.events
            #expect(
                events.map(\.event)
                    == [
                        "response.created", "response.in_progress", "response.output_item.added",
                        "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
                        "response.output_text.delta", "response.output_text.done", "response.content_part.done",
                        "response.output_item.done", "response.completed",
                    ])
            let data = events.map { (try? JSONParser.parse($0.data)) ?? .null }
            #expect(data.map { $0["type"]?.stringValue } == events.map(\.event))
            #expect(data.map { $0["sequence_number"]?.intValue } == Array(0..<events.count))

            let created = data[0]["response"]
            #expect(created?.objectValue?.keys == Self.responseKeys)
            #expect(created?["status"]?.stringValue == "in_progress")
            #expect(created?["output"] == .array([]))
            #expect(created?["usage"] == .null)

            let added = data[2]["item"]
            #expect(added?["status"]?.stringValue == "in_progress")
            #expect(added?["content"] == .array([]))
            let itemID = added?["id"]?.stringValue
            #expect(itemID?.hasPrefix("msg_") == true)

            let deltas = data[4...6]
            #expect(deltas.allSatisfy { $0["item_id"]?.stringValue == itemID && $0["output_index"]?.intValue == 0 })
            #expect(deltas.allSatisfy { $0["content_index"]?.intValue == 0 })
            #expect(deltas.compactMap { $0["delta"]?.stringValue }.joined() == "Echo: hello there")
            #expect(data[7]["text"]?.stringValue == "Echo: hello there")
            #expect(data[8]["part"]?["text"]?.stringValue == "Echo: hello there")
            #expect(data[9]["item"]?["status"]?.stringValue == "completed")

            let completed = data[10]["response"]
            #expect(completed?["status"]?.stringValue == "completed")
            #expect(completed?["id"] == created?["id"])
            #expect(completed?["output"]?.arrayValue?.first == data[9]["item"])
            #expect(completed?["usage"]?["output_tokens"]?.intValue == 3)
            #expect(completed?["usage"]?["input_tokens"]?.intValue == Self.inputTokens)
        }
    }

    @Test func streamingToolCallAndIncompleteEndings() async throws {
        try await withFakeServer { server in
            let call = try await server.request(
                "/v1/responses", body: responsesBody(stream: true, fake: #"{"tool_call":true}"#, extra: Self.tools))
            #expect(
                call.events.map(\.event)
                    == [
                        "response.created", "response.in_progress", "response.output_item.added",
                        "response.function_call_arguments.delta", "response.function_call_arguments.done",
                        "response.output_item.done", "response.completed",
                    ])
            let data = call.events.map { (try? JSONParser.parse($0.data)) ?? .null }
            #expect(data[2]["item"]?["arguments"]?.stringValue == "")
            #expect(data[3]["delta"]?.stringValue == #"{"city":"fake"}"#)
            #expect(data[4]["arguments"]?.stringValue == #"{"city":"fake"}"#)
            #expect(data[3]["item_id"] == data[2]["item"]?["id"])
            #expect(data[6]["response"]?["output"]?.arrayValue?.first?["type"]?.stringValue == "function_call")

            let cut = try await server.request(
                "/v1/responses",
                body: responsesBody(maxOutputTokens: 16, stream: true, fake: #"{"output_tokens":30}"#))
            #expect(cut.events.last?.event == "response.incomplete")
            let last = (try? JSONParser.parse(cut.events.last?.data ?? "")) ?? .null
            #expect(last["response"]?["status"]?.stringValue == "incomplete")
            #expect(last["response"]?["incomplete_details"]?["reason"]?.stringValue == "max_output_tokens")
        }
    }

    @Test func invalidRequestsAnswer400() async throws {
        try await withFakeServer { server in
            func error(_ body: String) async throws -> JSONValue? {
                let response = try await server.request("/v1/responses", body: body)
                #expect(response.status == 400)
                #expect(response.json["error"]?["type"]?.stringValue == "invalid_request_error")
                return response.json["error"]
            }
            let missing = try await error(#"{"model":"gpt-4.1-mini"}"#)
            #expect(missing?["message"]?.stringValue == "Missing required parameter: 'input'.")
            #expect(missing?["param"]?.stringValue == "input")
            let number = try await error(responsesBody("42"))
            #expect(
                number?["message"]?.stringValue
                    == "Invalid type for 'input': expected one of a string or an array of input items, but got an "
                    + "integer instead.")
            let empty = try await error(responsesBody("[]"))
            #expect(empty?["param"]?.stringValue == "input")
            let item = try await error(responsesBody(#"["hi"]"#))
            #expect(item?["param"]?.stringValue == "input[0]")
            let instructions = try await error(responsesBody(extra: #""instructions":5"#).replacingOccurrences(
                of: #""instructions":"be brief","#, with: ""))
            #expect(instructions?["param"]?.stringValue == "instructions")
            let noModel = try await error(#"{"input":"x"}"#)
            #expect(noModel?["param"]?.stringValue == "model")
            let stream = try await error(responsesBody(extra: #""stream":"yes""#))
            #expect(stream?["param"]?.stringValue == "stream")
        }
    }

    @Test func scriptedFaultsApply() async throws {
        try await withFakeServer { server in
            let throttled = try await server.request(
                "/v1/responses", body: responsesBody(fake: #"{"status":429,"retry_after":"3"}"#))
            #expect(throttled.status == 429)
            #expect(throttled.json["error"]?["code"]?.stringValue == "rate_limit_exceeded")
            #expect(throttled.header("retry-after") == "3")

            let quota = try await server.request(
                "/v1/responses", headers: [("x-fake-mode", "insufficient_quota")], body: responsesBody())
            #expect(quota.status == 429)
            #expect(quota.json["error"]?["code"]?.stringValue == "insufficient_quota")

            let reset = try await server.request(
                "/v1/responses", headers: [("x-fake-mode", "reset_stream")], body: responsesBody(stream: true))
            #expect(reset.status == 200)
            #expect(!reset.ended)
            #expect(!reset.events.isEmpty)
            #expect(!reset.text.contains("response.completed"))

            let scripted = try await server.request(
                "/v1/responses", headers: [("x-fake-reply", "scripted words"), ("x-fake-latency-ms", "10")],
                body: responsesBody())
            let text = scripted.json["output"]?.arrayValue?.first?["content"]?.arrayValue?.first?["text"]?.stringValue
            #expect(text == "scripted words")
            #expect(scripted.header("openai-processing-ms") == "10")

            let stats = try await server.waitForStats { $0.records.count == 4 && $0.inFlight == 0 }
            #expect(stats.records.map(\.path) == Array(repeating: "/v1/responses", count: 4))
            #expect(stats.records.map(\.mode) == [.ok, .insufficientQuota, .resetStream, .ok])
        }
    }

    @Test func tpmChargesInputPlusMaxOutputTokens() async throws {
        try await withFakeServer({
            $0.tokensPerMinute = 10
            $0.burstSeconds = 180
            $0.requestsPerMinute = 600
        }) { server in
            // 7 input + 20 max output = 27 of 30.
            let first = try await server.request("/v1/responses", body: responsesBody(maxOutputTokens: 20))
            #expect(first.status == 200)
            #expect(first.header("x-ratelimit-remaining-tokens") == "3")
            #expect(first.header("x-ratelimit-limit-requests") == "600")
            #expect(first.header("x-ratelimit-reset-requests") != nil)
            let limited = try await server.request("/v1/responses", body: responsesBody(maxOutputTokens: 20))
            #expect(limited.status == 429)
            #expect(limited.json["error"]?["type"]?.stringValue == "tokens")
            #expect(limited.header("x-ratelimit-remaining-tokens") == "3")
            let stats = try await server.waitForStats { $0.records.count == 2 }
            #expect(stats.inputTokens == Self.inputTokens)
            #expect(stats.outputTokens == 16)
        }
    }
}
