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

/// At `--log-level info` a user sees what the sidecar did (issue 14.7).
@Suite("Logs a user can read", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct ReadableLogTests {
    @Test("configuration changes and retries (item, attempt, kind, delay) are logged at info")
    func retriesAndConfigurationAreLogged() async throws {
        try await withVolley(arguments: ["--log-level", "info"]) { volley in
            let configured = try await volley.request("configure", id: 1, params: ["providers": [
                "m": ["kind": "mock", "latency_ms": 0, "retry": ["max_retries": 2, "initial_delay": 0.01, "max_delay": 0.02]],
            ], "default_provider": "m"])
            #expect(configured["result"]?["default_provider"] == "m")
            let reply = try await volley.request("gather", id: 2, params: ["requests": [
                ["key": "flaky", "request": ["messages": [["role": "user", "content": "hi"]],
                                              "mock": ["fail": "rate_limited", "fail_attempts": 1, "retry_after": 0.01]]],
            ]])
            #expect(reply["result"]?["results"]?[0]?["attempts"] == 2, "\(reply.jsonString)")
            volley.closeStdin()
            _ = try await volley.waitForExit()
            let log = volley.stderrText
            #expect(log.contains("providers configured"), "\(log)")
            #expect(log.contains("retrying"), "\(log)")
            #expect(log.contains("rate_limited") && log.contains("flaky") && log.contains("delay_ms"), "\(log)")
        }
    }
}
