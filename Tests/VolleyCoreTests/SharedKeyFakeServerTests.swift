import FakeLLM
import Testing
import VolleyHTTP
import VolleyTestSupport
@testable import VolleyCore

/// Issue 15.1 against a real server: two providers with one key at one origin spend one budget.
@Suite(.serialized, .tags(.timeSensitive)) struct SharedKeyFakeServerTests {
    @Test func twoProviderNamesWithOneKeyNeverExceedOneConcurrency() async throws {
        var configuration = FakeLLMConfiguration()
        configuration.latency = .fixed(milliseconds: 30)
        let server = try await FakeLLMServer.start(configuration)
        let http = try HTTPClient()
        let engine = Engine(http: http, environment: [:])
        let provider: JSONValue = ["kind": "openai", "base_url": .string(server.baseURL + "/v1"), "api_key": "sk-one-key",
                                   "limits": ["concurrency": 1], "retry": ["max_retries": 0]]
        try engine.configure(providers: ["a": provider, "b": provider], defaultProvider: nil)
        let requests: [JSONValue] = (0..<8).map { index in
            ["key": .string("k\(index)"), "provider": .string(index % 2 == 0 ? "a" : "b"),
             "request": ["model": "gpt-4o-mini", "messages": [["role": "user", "content": "hello"]]]]
        }
        let summary = await engine.run(try engine.prepare(requests).get(), options: BatchOptions(concurrency: 8), onOutcome: { _ in })
        #expect(summary.succeeded == 8)
        #expect(server.stats().peakInFlight == 1)
        let json = engine.statsJSON()
        #expect(json["limiters"]?.objectValue?.keys.sorted() == ["a/gpt-4o-mini"])
        #expect(json["limiters"]?["a/gpt-4o-mini"]?["providers"] == ["a", "b"])
        #expect(!JSONValue.object(json).jsonString.contains("sk-one-key"))
        await http.shutdown()
        try await server.shutdown()
    }
}
