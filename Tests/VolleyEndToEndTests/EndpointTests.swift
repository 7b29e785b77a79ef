import FakeLLM
import FakeLLMTestSupport
import Foundation
import Testing
import VolleyCore
import VolleyTestSupport

/// Items of every endpoint (docs/protocol.md, "Endpoints"), through the built binary against
/// the fake server and the mock: their values, their errors, their limits.
@Suite("Endpoints", .timeLimit(.minutes(2)), .tags(.endToEnd))
struct EndpointTests {
    static func item(_ endpoint: String, _ request: JSONObject, key: String? = nil, extra: JSONObject = [:]) -> JSONValue {
        var item: JSONObject = ["provider": "fake", "request": .object(request)]
        if endpoint.hasPrefix("/") { item["path"] = .string(endpoint) } else { item["endpoint"] = .string(endpoint) }
        if let key { item["key"] = .string(key) }
        for (name, value) in extra { item[name] = value }
        return .object(item)
    }

    /// A base64 vector of little-endian float32s.
    static func floats(base64 text: String) -> [Float] {
        guard let data = Data(base64Encoded: text) else { return [] }
        return data.withUnsafeBytes { raw in
            stride(from: 0, to: raw.count, by: 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0, as: UInt32.self))) }
        }
    }

    @Test("each endpoint in gather and as_completed: embeddings, responses, completions, a raw path, chat")
    func everyEndpoint() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "sk-fake"]) { volley in
                try await configureFake(volley, server)
                let items: JSONValue = [
                    Self.item("embeddings", ["model": "text-embedding-3-small", "input": ["alpha", "beta"]], key: "e"),
                    Self.item("embeddings", ["model": "text-embedding-3-small", "input": "alpha", "encoding_format": "float", "dimensions": 8], key: "f"),
                    Self.item("responses", ["model": "gpt-4o-mini", "input": "Say hi", "max_output_tokens": 32], key: "r"),
                    Self.item("completions", ["model": "gpt-3.5-turbo-instruct", "prompt": "Once upon", "max_tokens": 8], key: "c"),
                    Self.item("/v1/embeddings", ["model": "text-embedding-3-small", "input": "raw", "dimensions": 4], key: "p"),
                    Self.item("chat", ["model": "gpt-4o-mini", "messages": [["role": "user", "content": "hi"]], "max_tokens": 8], key: "h"),
                ]
                for method in ["gather", "as_completed"] {
                    let reply = try await volley.request(method, id: .string(method), params: ["requests": items])
                    var outcomes: [String: JSONValue] = [:]
                    if method == "gather" {
                        for outcome in reply["result"]?["results"]?.arrayValue ?? [] { outcomes[outcome["key"]?.stringValue ?? ""] = outcome }
                    } else {
                        for line in volley.stdout.lines {
                            guard let params = line.value?["params"], line.value?["method"] == "item", params["request"] == "as_completed" else { continue }
                            outcomes[params["key"]?.stringValue ?? ""] = params
                        }
                    }
                    #expect(reply["result"]?["stats"]?["succeeded"] == 6, "\(method): \(reply.jsonString.prefix(600))")
                    // Embeddings, base64 by default: two 1,536-float unit vectors, different, usage input only.
                    let embedded = outcomes["e"]?["value"]
                    #expect(embedded?["encoding"] == "base64" && embedded?["dimensions"] == 1_536, "\(embedded?.jsonString.prefix(200) ?? "")")
                    let vectors = (embedded?["embeddings"]?.arrayValue ?? []).map { Self.floats(base64: $0.stringValue ?? "") }
                    #expect(vectors.count == 2 && vectors.allSatisfy { $0.count == 1_536 } && vectors[0] != vectors[1])
                    let norm = vectors.first.map { $0.reduce(0) { $0 + $1 * $1 } } ?? 0
                    #expect(abs(norm - 1) < 0.001, "unit length: \(norm)")
                    #expect(embedded?["usage"]?["output_tokens"] == 0 && (embedded?["usage"]?["input_tokens"]?.intValue ?? 0) > 0)
                    // Asked for floats: numbers, 8 of them, the same as the base64's first 8 rescaled? Just numbers here.
                    let floats = outcomes["f"]?["value"]
                    #expect(floats?["encoding"] == "float" && floats?["embeddings"]?[0]?.arrayValue?.count == 8, "\(floats?.jsonString.prefix(200) ?? "")")
                    #expect(floats?["embeddings"]?[0]?[0]?.doubleValue != nil)
                    // Responses: text, finish reason, usage, the response id.
                    let response = outcomes["r"]?["value"]
                    #expect(response?["text"]?.stringValue?.isEmpty == false && response?["finish_reason"] == "stop", "\(response?.jsonString ?? "")")
                    #expect(response?["id"]?.stringValue?.hasPrefix("resp_") == true && (response?["usage"]?["output_tokens"]?.intValue ?? 0) > 0)
                    // Completions: choices[0].text.
                    let completion = outcomes["c"]?["value"]
                    #expect(completion?["text"]?.stringValue?.isEmpty == false && completion?["usage"]?["input_tokens"] != nil, "\(completion?.jsonString ?? "")")
                    // A raw path: the provider's body as it is, status 200.
                    let raw = outcomes["p"]?["value"]
                    #expect(raw?["status"] == 200 && raw?["body"]?["object"] == "list", "\(raw?.jsonString.prefix(300) ?? "")")
                    #expect(raw?["body"]?["data"]?[0]?["embedding"]?.arrayValue?.count == 4)
                    #expect(outcomes["h"]?["value"]?["text"]?.stringValue?.isEmpty == false)
                }
            }
        }
    }

    @Test("an endpoint's errors: the provider's 400, a 429 retried, an endpoint the provider kind has not, a bad item")
    func errors() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "sk-fake"]) { volley in
                let providers = fakeProviders(server, extra: ["retry": ["max_retries": 1, "initial_delay": 0.01]])
                guard case .object(var all) = providers else { return }
                all["claude"] = ["kind": "anthropic", "base_url": .string(server.baseURL + "/v1"), "api_key_env": .string(fakeKeyEnv)]
                _ = try await volley.request("configure", id: "c", params: ["providers": .object(all)])
                let items: JSONValue = [
                    Self.item("embeddings", ["model": "text-embedding-3-small", "input": ""]),
                    Self.item("embeddings", ["model": "text-embedding-3-small", "input": "x", "fake": ["mode": "rate_limit", "retry_after": "0"]]),
                    ["provider": "claude", "endpoint": "embeddings", "request": ["input": "x"]],
                    ["provider": "fake", "endpoint": "speech", "request": ["input": "x"]],
                    ["provider": "fake", "endpoint": "embeddings", "path": "/v1/embeddings", "request": ["input": "x"]],
                ]
                let reply = try await volley.request("gather", id: "g", params: ["requests": items])
                let results = reply["result"]?["results"]?.arrayValue ?? []
                #expect(results[0]["error"]?["kind"] == "http" && results[0]["error"]?["status"] == 400, "\(results[0].jsonString)")
                #expect(results[1]["error"]?["kind"] == "rate_limited" && results[1]["attempts"] == 2, "\(results[1].jsonString)")
                #expect(results[2]["error"]?["kind"] == "invalid_request" && results[2]["attempts"] == 0, "\(results[2].jsonString)")
                #expect(results[2]["error"]?["message"]?.stringValue?.contains("anthropic") == true)
                #expect(results[3]["error"]?["kind"] == "invalid_request", "\(results[3].jsonString)")
                #expect(results[4]["error"]?["message"]?.stringValue?.contains("not both") == true, "\(results[4].jsonString)")
            }
        }
    }

    @Test("embeddings count their input only against tpm: a limit that allows 3 calls' input, with max_tokens irrelevant")
    func embeddingsReserveInputOnly() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "sk-fake"]) { volley in
                // 4,000 characters = 1,000 tokens each; 4,000 tpm with token_burst 3,500 admits 3 at once.
                let providers = fakeProviders(server, extra: ["limits": ["tpm": 4_000, "token_burst": 3_500]])
                _ = try await volley.request("configure", id: "c", params: ["providers": providers])
                let text = String(repeating: "abcd", count: 1_000)
                let items = JSONValue.array((0..<4).map { _ in Self.item("embeddings", ["model": "text-embedding-3-small", "input": .string(text)]) })
                let started = ContinuousClock.now
                let reply = try await volley.request("gather", id: "t", params: ["requests": items])
                let elapsed = ContinuousClock.now - started
                #expect(reply["result"]?["stats"]?["succeeded"] == 4, "\(reply.jsonString.prefix(300))")
                // Had the 1,024 default output tokens been reserved, only 1 would fit at once and
                // the others would wait ~30 s each; input only: 3 at once, the 4th within ~15 s.
                #expect(elapsed < .seconds(25), "\(elapsed)")
                #expect(server.stats().rateLimited == 0)
            }
        }
    }

    @Test("an Azure-style OpenAI provider (api-key header, api-version query) runs chat and embeddings")
    func azureStyleProvider() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "azure-key"]) { volley in
                _ = try await volley.request("configure", id: "c", params: ["providers": ["azure": [
                    "kind": "openai", "base_url": .string(server.baseURL + "/v1"), "api_key_env": .string(fakeKeyEnv),
                    "api_key_header": "api-key", "query": ["api-version": "2024-10-21"],
                ]]])
                let items: JSONValue = [
                    ["provider": "azure", "request": ["model": "gpt-4o", "messages": [["role": "user", "content": "hi"]], "max_tokens": 8]],
                    ["provider": "azure", "endpoint": "embeddings", "request": ["model": "text-embedding-3-small", "input": "x", "dimensions": 8]],
                ]
                let reply = try await volley.request("gather", id: "g", params: ["requests": items])
                #expect(reply["result"]?["stats"]?["succeeded"] == 2, "\(reply.jsonString.prefix(400))")
                #expect(server.stats().requests == 2)
            }
        }
    }

    @Test("cost_usd: from the usage the server reported and the model's price; null for an unpriced model; summed in stats")
    func costs() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "sk-fake"]) { volley in
                try await configureFake(volley, server)
                let items: JSONValue = [
                    Self.item("chat", ["model": "gpt-4o-mini", "messages": [["role": "user", "content": "hello there"]], "max_tokens": 20]),
                    Self.item("embeddings", ["model": "text-embedding-3-small", "input": "some text to embed", "dimensions": 4]),
                    Self.item("chat", ["model": "my-local-model", "messages": [["role": "user", "content": "hi"]], "max_tokens": 5]),
                ]
                let reply = try await volley.request("gather", id: "c", params: ["requests": items])
                let results = reply["result"]?["results"]?.arrayValue ?? []
                func expected(_ outcome: JSONValue, input: Double, output: Double) -> Double {
                    let usage = outcome["value"]?["usage"]
                    return ((usage?["input_tokens"]?.doubleValue ?? 0) * input + (usage?["output_tokens"]?.doubleValue ?? 0) * output) / 1_000_000
                }
                let chat = try #require(results[0]["cost_usd"]?.doubleValue, "\(results[0].jsonString)")
                #expect(abs(chat - expected(results[0], input: 0.15, output: 0.60)) < 1e-8 && chat > 0)
                let embedded = try #require(results[1]["cost_usd"]?.doubleValue, "\(results[1].jsonString)")
                #expect(abs(embedded - expected(results[1], input: 0.02, output: 0)) < 1e-8)
                #expect(results[2]["cost_usd"] == .null, "no price for my-local-model: null, not a guess")
                let stats = reply["result"]?["stats"]
                #expect(abs((stats?["cost_usd"]?.doubleValue ?? 0) - (chat + embedded)) < 1e-7)
                #expect(stats?["cost_unknown"] == 1)
                // The sidecar's stats: dollars per model the provider reported.
                let totals = try await volley.request("stats", id: "s")["result"]
                let byModel = totals?["cost_usd"]?.objectValue ?? [:]
                #expect(abs(byModel.values.compactMap(\.doubleValue).reduce(0, +) - (chat + embedded)) < 1e-7, "\(totals?["cost_usd"]?.jsonString ?? "")")
                #expect(totals?["cost_unknown"] == 1)
            }
        }
    }

    @Test("cached input tokens: read from OpenAI's and Anthropic's usage (whole and streamed), priced at cached_input")
    func cachedInput() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "sk-fake"]) { volley in
                var providers = fakeProviders(server).objectValue ?? [:]
                providers["claude"] = ["kind": "anthropic", "base_url": .string(server.baseURL + "/v1"), "api_key_env": .string(fakeKeyEnv)]
                _ = try await volley.request("configure", id: "c", params: ["providers": .object(providers)])
                let prompt = String(repeating: "a long shared system prompt ", count: 40)
                func item(_ provider: String, _ model: String, stream: Bool) -> JSONValue {
                    ["provider": .string(provider), "stream": .bool(stream),
                     "request": ["model": .string(model), "max_tokens": 8, "messages": [["role": "user", "content": .string(prompt)]],
                                 "fake": ["cached_tokens": 64]]]
                }
                let items: JSONValue = [item("fake", "gpt-4o-mini", stream: false), item("fake", "gpt-4o-mini", stream: true),
                                        item("claude", "claude-sonnet-4", stream: false), item("claude", "claude-sonnet-4", stream: true)]
                let results = try await volley.request("gather", id: "g", params: ["requests": items])["result"]?["results"]?.arrayValue ?? []
                #expect(results.count == 4)
                for (index, (input, cached, output)) in [(0.15, 0.075, 0.60), (0.15, 0.075, 0.60), (3.0, 0.30, 15.0), (3.0, 0.30, 15.0)].enumerated() {
                    let usage = results[index]["value"]?["usage"]
                    let all = usage?["input_tokens"]?.doubleValue ?? 0, out = usage?["output_tokens"]?.doubleValue ?? 0
                    #expect(usage?["cached_input_tokens"] == 64, "item \(index): \(usage?.jsonString ?? "nil")")
                    #expect(all > 64, "item \(index): input_tokens counts the cached ones too")
                    let expected = ((all - 64) * input + 64 * cached + out * output) / 1_000_000
                    #expect(abs((results[index]["cost_usd"]?.doubleValue ?? -1) - expected) < 1e-10, "item \(index)")
                }
            }
        }
    }

    @Test("max_cost_usd with 64 in flight: never more spent than the budget; the rest budget_exceeded without reaching the server")
    func budgetHolds() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "sk-fake"]) { volley in
                try await configureFake(volley, server)
                // gpt-4o: $2.50 in, $10 out a million. Each call: ~3 tokens in + 1,000 max out,
                // worst case ~$0.01001; the budget affords 10 worst cases at once.
                let item = Self.item("chat", ["model": "gpt-4o", "messages": [["role": "user", "content": "hi"]], "max_tokens": 1_000,
                                              "fake": ["output_tokens": 900, "latency_ms": 50]])
                let budget = 0.1005
                let reply = try await volley.request("gather", id: "b", params: [
                    "requests": .array(Array(repeating: item, count: 64)), "concurrency": 64, "max_cost_usd": .number(JSONNumber(budget) ?? 0),
                ], timeout: 60)
                let results = reply["result"]?["results"]?.arrayValue ?? []
                let spent = results.compactMap { $0["cost_usd"]?.doubleValue }.reduce(0, +)
                let refused = results.filter { $0["error"]?["kind"] == "budget_exceeded" }
                #expect(spent <= budget, "spent \(spent) of \(budget)")
                #expect(spent > budget * 0.8, "the budget was used, not refused out of hand: \(spent)")
                #expect(refused.allSatisfy { $0["attempts"] == 0 }, "refused before sending")
                let sent = server.stats().requests
                #expect(sent == 64 - refused.count, "every refused item stayed off the server: \(sent) sent, \(refused.count) refused")
                #expect(reply["result"]?["stats"]?["budget_exceeded"]?.intValue == refused.count && refused.count >= 50)
                // An unpriced model under a budget: refused, nothing sent.
                let unpriced = Self.item("chat", ["model": "my-local-model", "messages": [["role": "user", "content": "hi"]]])
                let other = try await volley.request("gather", id: "u", params: ["requests": [unpriced], "max_cost_usd": 5])
                #expect(other["result"]?["results"]?[0]?["error"]?["message"]?.stringValue?.contains("no price") == true)
                #expect(server.stats().requests == sent)
            }
        }
    }

    @Test("--pricing prices a model the shipped table does not know")
    func pricingFile() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withPrivateDirectory { directory in
                let path = "\(directory)/pricing.json"
                let file: JSONValue = ["date": "2027-01-01", "models": ["my-local-model": ["input": 2, "output": 4]]]
                #expect(FileManager.default.createFile(atPath: path, contents: Data(file.jsonBytes)))
                try await withVolley(arguments: ["--pricing", path], environment: [fakeKeyEnv: "sk-fake"]) { volley in
                    try await configureFake(volley, server)
                    let item = Self.item("chat", ["model": "my-local-model", "messages": [["role": "user", "content": "hi"]], "max_tokens": 5])
                    let outcome = try await volley.request("gather", id: "p", params: ["requests": [item]])["result"]?["results"]?[0]
                    let usage = outcome?["value"]?["usage"]
                    let expected = ((usage?["input_tokens"]?.doubleValue ?? 0) * 2 + (usage?["output_tokens"]?.doubleValue ?? 0) * 4) / 1_000_000
                    #expect(abs((outcome?["cost_usd"]?.doubleValue ?? -1) - expected) < 1e-9, "\(outcome?.jsonString ?? "")")
                }
            }
        }
    }

    @Test("the mock answers every endpoint offline, deterministically")
    func mockEndpoints() async throws {
        try await withVolley { volley in
            func mock(_ endpoint: String, _ request: JSONObject) -> JSONValue {
                var item: JSONObject = ["provider": "mock", "request": .object(request)]
                if endpoint.hasPrefix("/") { item["path"] = .string(endpoint) } else { item["endpoint"] = .string(endpoint) }
                return .object(item)
            }
            let items: JSONValue = [
                mock("embeddings", ["input": ["same", "same", "other"], "dimensions": 16, "mock": ["latency_ms": 0]]),
                mock("responses", ["input": "hi", "mock": ["latency_ms": 0]]),
                mock("completions", ["prompt": "hi", "mock": ["latency_ms": 0]]),
                mock("/v1/moderations", ["input": "hi", "mock": ["latency_ms": 0]]),
                mock("embeddings", ["mock": ["latency_ms": 0]]),
            ]
            let results = try await volley.request("gather", id: 1, params: ["requests": items])["result"]?["results"]?.arrayValue ?? []
            let vectors = results[0]["value"]?["embeddings"]?.arrayValue?.map { Self.floats(base64: $0.stringValue ?? "") } ?? []
            #expect(vectors.count == 3 && vectors[0] == vectors[1] && vectors[0] != vectors[2] && vectors[0].count == 16)
            #expect(results[1]["value"]?["text"] == "Mock reply to: hi")
            #expect(results[2]["value"]?["text"] == "Mock reply to: hi")
            #expect(results[3]["value"]?["body"]?["path"] == "/v1/moderations" && results[3]["value"]?["status"] == 200)
            #expect(results[4]["error"]?["kind"] == "invalid_request", "the mock refuses what the API would: \(results[4].jsonString)")
        }
    }
}
