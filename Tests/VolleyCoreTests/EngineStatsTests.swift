import FakeLLM
import Testing
import VolleyTestSupport
@testable import VolleyCore

/// `Engine.stats()`: the typed reading the RPC server and `volley run` use instead of the
/// transport's own types, and the `stats` JSON rendered from it.
@Suite(.serialized, .tags(.timeSensitive)) struct EngineStatsTests {
    @Test func countersPoolAndProvidersComeFromOneReading() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let engine = try Engine(maxConnectionsPerHost: 4, environment: ["FAKE_KEY": "sk-secret-value"])
        try engine.configure(providers: [
            "fake": ["kind": "openai", "base_url": .string(server.baseURL + "/v1"), "api_key_env": "FAKE_KEY",
                     "limits": ["rpm": 600, "concurrency": 8]],
        ], defaultProvider: "fake")
        let requests: [JSONValue] = (0..<3).map { index in
            ["key": .string("k\(index)"),
             "request": ["model": "gpt-4o-mini", "messages": [["role": "user", "content": "hello"]]]]
        }
        // One at a time: the first transfer opens the connection, the other two reuse it.
        let summary = await engine.run(try engine.prepare(requests).get(), options: BatchOptions(concurrency: 1), onOutcome: { _ in })
        #expect(summary.succeeded == 3)

        let stats = engine.stats()
        #expect(stats.counters.completed == 3)
        #expect(stats.counters.failed == 0)
        #expect(stats.counters.retries == 0)
        #expect(stats.counters.latencyP50Ms != nil)
        #expect(stats.connectionsOpened == 1)
        #expect(stats.connectionsReused == 2)

        let json = stats.json
        #expect(json.keys == [
            "batches_active", "completed", "failed", "cancelled", "retries", "rate_limited", "latency_ms", "usage", "cost_usd", "cost_unknown",
            "in_flight", "queued", "limiters", "uptime_ms", "connections_opened", "connections_reused", "providers",
        ])
        #expect(json["connections_opened"]?.intValue == 1)
        #expect(json["connections_reused"]?.intValue == 2)
        #expect(json["limiters"]?["fake/gpt-4o-mini"]?["rpm"]?.intValue == 600)
        let provider = json["providers"]?["fake"]
        #expect(provider?["kind"]?.stringValue == "openai")
        #expect(provider?["limits"]?["concurrency"]?.intValue == 8)
        #expect(provider?["api_key_env"]?.stringValue == "FAKE_KEY")
        #expect(provider?["has_key"] == .bool(true))
        // The key itself is never part of stats.
        #expect(!JSONValue.object(json).jsonString.contains("sk-secret-value"))

        await engine.shutdown()
        try await server.shutdown()
    }

    @Test func beforeAnyOutcomeLatencyIsNullAndCountersAreZero() async throws {
        let engine = try Engine(maxConnectionsPerHost: 1, environment: [:])
        let stats = engine.stats()
        #expect(stats.counters == EngineCounters(
            batchesActive: 0, completed: 0, failed: 0, cancelled: 0, retries: 0, rateLimited: 0,
            latencyP50Ms: nil, latencyP95Ms: nil, latencyP99Ms: nil, usageByModel: [:]))
        #expect(stats.json["latency_ms"]?["p50"] == .null)
        #expect(stats.connectionsOpened == 0)
        await engine.shutdown()
    }
}
