import FakeLLM
import FakeLLMTestSupport
import Testing
import VolleyCore
import VolleyTestSupport

/// Providers as a host configures and uses them: configure, anthropic translation, raw bodies,
/// unknown providers.
@Suite("Providers over the wire", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct ProviderTests {
    @Test("configure adds providers; an invalid configure is -32602 naming the field and changes nothing")
    func configureIsAtomic() async throws {
        try await withVolley { volley in
            let added = try await volley.request("configure", id: 1, params: [
                "providers": ["fast": ["kind": "mock", "latency_ms": 0]], "default_provider": "fast",
            ])
            #expect(added["result"] == ["providers": ["fast", "mock"], "default_provider": "fast"])

            let bad = try await volley.request("configure", id: 2, params: [
                "providers": ["other": ["kind": "mock"], "broken": ["kind": "mock", "latencyms": 5]],
                "default_provider": "other",
            ])
            #expect(bad.errorCode == -32602)
            #expect(bad["error"]?["message"]?.stringValue?.contains("latencyms") == true, "\(bad.jsonString)")
            let unknownDefault = try await volley.request("configure", id: 3, params: ["default_provider": "nope"])
            #expect(unknownDefault.errorCode == -32602)

            let initialize = try await volley.request("initialize", id: 4)
            #expect(initialize["result"]?["capabilities"]?["providers"] == ["fast", "mock"], "nothing of the bad configure stuck")
            #expect(initialize["result"]?["capabilities"]?["default_provider"] == "fast")
        }
    }

    @Test("an unknown provider rejects the whole batch with -32602 and data.index; a non-object item is an outcome")
    func unknownProviderAndBadItems() async throws {
        try await withVolley { volley in
            let unknown = try await volley.request("gather", id: 1, params: ["requests": [
                mockItem(), mockItem(), ["provider": "nope", "request": ["messages": []]],
            ]])
            #expect(unknown.errorCode == -32602)
            #expect(unknown.errorData?["index"] == 2)

            let items = try await volley.request("gather", id: 2, params: ["requests": [5, "text", [], ["request": ["messages": []], "key": 7], mockItem(mock: ["latency_ms": 0])]])
            let results = try #require(items["result"]?["results"]?.arrayValue, "\(items.jsonString)")
            #expect(results.count == 5)
            for index in 0..<4 {
                #expect(results[index]["index"]?.intValue == index)
                #expect(results[index]["error"]?["kind"] == "invalid_request", "\(results[index].jsonString)")
            }
            #expect(results[4]["ok"] == true)

            let empty = try await volley.request("gather", id: 3, params: ["requests": []])
            #expect(empty.errorCode == -32602)
            let missing = try await volley.request("as_completed", id: 4, params: [:])
            #expect(missing.errorCode == -32602)
            let badOption = try await volley.request("gather", id: 5, params: ["requests": [mockItem()], "priority": "urgent"])
            #expect(badOption.errorCode == -32602)
            let badConcurrency = try await volley.request("gather", id: 6, params: ["requests": [mockItem()], "concurrency": 0])
            #expect(badConcurrency.errorCode == -32602)
        }
    }

    @Test("anthropic provider against the fake server: translated request, text back; 529 is overloaded")
    func anthropicProvider() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "sk-ant-fake"]) { volley in
                let configured = try await volley.request("configure", id: 1, params: ["providers": [
                    "claude": [
                        "kind": "anthropic", "base_url": .string(server.baseURL + "/v1"),
                        "api_key_env": .string(fakeKeyEnv), "retry": ["max_retries": 0],
                    ],
                ]])
                #expect(configured["result"] != nil, "\(configured.jsonString)")
                let reply = try await volley.request("gather", id: 2, params: ["requests": [
                    ["key": "a", "provider": "claude", "request": [
                        "model": "claude-3-5-haiku-latest", "max_tokens": 32,
                        "messages": [["role": "system", "content": "be brief"], ["role": "user", "content": "hello"]],
                        "fake": ["reply": "hi from the fake"],
                    ]],
                    ["key": "b", "provider": "claude", "request": [
                        "model": "claude-3-5-haiku-latest", "max_tokens": 32,
                        "messages": [["role": "user", "content": "hello"]], "fake": ["status": 529],
                    ]],
                ]])
                let results = try #require(reply["result"]?["results"]?.arrayValue, "\(reply.jsonString)")
                #expect(results[0]["ok"] == true, "\(results[0].jsonString)")
                #expect(results[0]["value"]?["text"] == "hi from the fake")
                #expect(results[0]["value"]?["finish_reason"] == "stop")
                #expect(results[0]["value"]?["raw"] == nil, "\(results[0].jsonString)")
                #expect(results[1]["error"]?["kind"] == "overloaded", "\(results[1].jsonString)")
                #expect(results[1]["error"]?["status"] == 529)
            }
        }
    }

    @Test("tool calls come back OpenAI-shaped from openai and anthropic providers", arguments: ["openai", "anthropic"])
    func toolCalls(kind: String) async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "k"]) { volley in
                let configured = try await volley.request("configure", id: 1, params: ["providers": [
                    "p": ["kind": .string(kind), "base_url": .string(server.baseURL + "/v1"), "api_key_env": .string(fakeKeyEnv)],
                ]])
                #expect(configured["result"] != nil, "\(configured.jsonString)")
                let tools: JSONValue = [[
                    "type": "function",
                    "function": ["name": "get_weather", "description": "Weather for a city",
                                 "parameters": ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]]],
                ]]
                let reply = try await volley.request("call", id: 2, params: ["provider": "p", "request": [
                    "model": kind == "openai" ? "gpt-4o-mini" : "claude-3-5-haiku-latest", "max_tokens": 64,
                    "messages": [["role": "system", "content": "Use tools."], ["role": "user", "content": "Weather in Paris?"]],
                    "tools": tools, "fake": ["tool_call": true],
                ]])
                let value = try #require(reply["result"], "\(reply.jsonString)")
                #expect(value["text"] == .null)
                #expect(value["finish_reason"] == "tool_calls")
                let call = try #require(value["tool_calls"]?[0], "\(value.jsonString)")
                #expect(call["type"] == "function")
                #expect(call["function"]?["name"] == "get_weather")
                let arguments = try #require(call["function"]?["arguments"]?.stringValue)
                #expect((try? JSONParser.parse(Array(arguments.utf8)))?["city"] != nil, "arguments are a JSON string: \(arguments)")
            }
        }
    }

    @Test("raw: true puts the provider's whole body in value.raw; without it there is none")
    func rawBodies() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "k"]) { volley in
                try await configureFake(volley, server)
                var rawItem = try requireValue(fakeItem(key: "raw").objectValue)
                rawItem["raw"] = true
                let reply = try await volley.request("gather", id: 1, params: ["requests": [.object(rawItem), fakeItem(key: "plain")]])
                let results = try #require(reply["result"]?["results"]?.arrayValue, "\(reply.jsonString)")
                #expect(results[0]["value"]?["raw"]?["choices"]?.arrayValue?.isEmpty == false, "\(results[0].jsonString)")
                #expect(results[1]["value"]?["raw"] == nil, "\(results[1].jsonString)")
            }
        }
    }
}
