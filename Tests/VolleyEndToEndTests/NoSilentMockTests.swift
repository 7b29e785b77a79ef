import Testing
import VolleyCore
import VolleyTestSupport

/// The mock answers only when asked for by name (issue 14.1): without a key an item that names
/// no provider is refused with what to set, and every outcome says which provider answered.
@Suite("The mock is never a silent default", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct NoSilentMockTests {
    private let request: JSONValue = ["model": "gpt-4o-mini", "messages": [["role": "user", "content": "hi"]]]

    @Test("no key, no provider: -32602 naming OPENAI_API_KEY and provider mock; no outcome at all")
    func unnamedItemWithoutAKeyIsRefused() async throws {
        try await withVolley(environment: ["OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""]) { volley in
            let reply = try await volley.request("gather", id: 1, params: ["requests": [["key": "a", "request": request]]])
            #expect(reply.errorCode == -32602, "\(reply.jsonString)")
            let message = reply["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains("OPENAI_API_KEY"), "\(message)")
            #expect(message.contains(#""provider": "mock""#), "\(message)")
            #expect(reply["result"] == nil)

            let openai = try await volley.request("gather", id: 2, params: ["requests": [["provider": "openai", "request": request]]])
            #expect(openai["error"]?["message"]?.stringValue?.contains("OPENAI_API_KEY is not set") == true, "\(openai.jsonString)")
        }
    }

    @Test("every outcome names the provider that ran it; the mock runs when named")
    func outcomesNameTheirProvider() async throws {
        try await withVolley { volley in
            let reply = try await volley.request("gather", id: 1, params: ["requests": [
                ["key": "a", "provider": "mock", "request": request],
                ["key": "b", "provider": "mock", "request": "not an object"],
            ]])
            let results = reply["result"]?["results"]?.arrayValue ?? []
            #expect(results.count == 2)
            #expect(results.first?["provider"] == "mock", "\(reply.jsonString)")
            #expect(results.first?["ok"] == true)
            // A malformed item never got a provider.
            #expect(results.last?["ok"] == false)
            #expect(results.last?["provider"] == nil, "\(reply.jsonString)")
        }
    }
}

/// Item-level typos and malformed mock bodies are outcomes naming the problem (issue 14.4).
@Suite("Typos never pass silently", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct TypoTests {
    @Test("`timout` / `max_retires` and a mock script typo are invalid_request outcomes naming the field")
    func typosAreOutcomes() async throws {
        try await withVolley { volley in
            let messages: JSONValue = [["role": "user", "content": "hi"]]
            let reply = try await volley.request("gather", id: 1, params: ["requests": [
                ["provider": "mock", "timout": 0.1, "max_retires": 0, "request": ["messages": messages]],
                ["provider": "mock", "request": ["messages": messages, "mock": ["latency": 100]]],
                ["provider": "mock", "request": [:]],
            ]])
            let results = reply["result"]?["results"]?.arrayValue ?? []
            #expect(results.count == 3, "\(reply.jsonString)")
            #expect(results.allSatisfy { $0["ok"] == false && $0["error"]?["kind"] == "invalid_request" }, "\(reply.jsonString)")
            #expect(results.first?["error"]?["message"]?.stringValue?.contains("`timout`") == true)
            #expect(results.first?["attempts"] == 0, "refused before any attempt")
            #expect(results.dropFirst().first?["error"]?["message"]?.stringValue?.contains("`latency`") == true)
            #expect(results.last?["error"]?["message"]?.stringValue?.contains("`messages` is required") == true)
            #expect(results.last?["error"]?["status"] == 400)
        }
    }
}
