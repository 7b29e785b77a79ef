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
