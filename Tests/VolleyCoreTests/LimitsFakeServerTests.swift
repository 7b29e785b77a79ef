import FakeLLM
import Foundation
import Testing
import VolleyHTTP
import VolleyTestSupport
@testable import VolleyCore

/// The limiter against a fake server that enforces the same limits and answers 429 with
/// OpenAI's headers when they are exceeded.
@Suite(.serialized, .tags(.timeSensitive)) struct LimitsFakeServerTests {
    private func items(_ count: Int, maxTokens: Int = 16, prompt: String = "hello") -> [JSONValue] {
        (0..<count).map { index in
            ["key": .string("k\(index)"), "provider": "fake",
             "request": ["model": "gpt-4o-mini", "max_tokens": .number(JSONNumber(maxTokens)),
                         "messages": [["role": "user", "content": .string(prompt)]]]]
        }
    }

    private func engine(_ server: FakeLLMServer, _ http: HTTPClient, limits: JSONValue, maxRetries: Int = 0) throws -> Engine {
        let engine = Engine(http: http, environment: [:])
        try engine.configure(providers: ["fake": [
            "kind": "openai", "base_url": .string(server.baseURL + "/v1"), "api_key": "k", "limits": limits,
            "retry": ["max_retries": .number(JSONNumber(maxRetries)), "initial_delay": 0.05, "max_delay": 1],
        ]], defaultProvider: nil)
        return engine
    }

    @Test func configuredAtTheServersRPMThereAreNoRateLimitsAndItRunsAtThatRate() async throws {
        // R = 6,000 requests/minute (100/s): 600 items ideally take 6 s.
        var configuration = FakeLLMConfiguration()
        configuration.requestsPerMinute = 6_000
        configuration.recordRequests = false
        let server = try await FakeLLMServer.start(configuration)
        let http = try HTTPClient()
        let engine = try engine(server, http, limits: ["rpm": 6_000, "concurrency": 1_000])
        let sink = OutcomeSink()
        let summary = await engine.run(try engine.prepare(items(600)).get(), options: BatchOptions(concurrency: 1_000), onOutcome: sink.append)
        let stats = server.stats()
        #expect(summary.succeeded == 600)
        #expect(stats.rateLimited == 0)
        #expect(stats.requests == 600)
        // Within 10% of the ideal 6 s: the limiter neither bursts past the server nor idles.
        let seconds = summary.elapsedMs / 1000
        print("600 items at 6,000 rpm: \(seconds) s (ideal 6 s)")
        #expect(seconds >= 5.4 && seconds <= 6.6)
        await http.shutdown()
        try await server.shutdown()
    }

    @Test func configuredAtTwiceTheServersRPMEveryItemStillSucceedsWithFew429s() async throws {
        var configuration = FakeLLMConfiguration()
        configuration.requestsPerMinute = 6_000
        configuration.recordRequests = false
        let server = try await FakeLLMServer.start(configuration)
        let http = try HTTPClient()
        // Wrong configuration: twice what the server allows. Cooldown and header re-sync must cope.
        let engine = try engine(server, http, limits: ["rpm": 12_000, "concurrency": 1_000], maxRetries: 10)
        let sink = OutcomeSink()
        let summary = await engine.run(try engine.prepare(items(600)).get(), options: BatchOptions(concurrency: 1_000), onOutcome: sink.append)
        let stats = server.stats()
        #expect(summary.succeeded == 600)
        let share = Double(stats.rateLimited) / Double(stats.requests)
        print("600 items at 2x the server's rpm: \(stats.rateLimited) of \(stats.requests) requests got 429 (\(share * 100)%)")
        #expect(share < 0.05)
        await http.shutdown()
        try await server.shutdown()
    }

    @Test func withNoConfiguredRPMTheLimiterLearnsItFromTheHeaders() async throws {
        var configuration = FakeLLMConfiguration()
        configuration.requestsPerMinute = 6_000
        configuration.recordRequests = false
        let server = try await FakeLLMServer.start(configuration)
        let http = try HTTPClient()
        // Nothing configured but the defaults (concurrency 64): the rate comes from the server's
        // x-ratelimit-limit-requests once the first responses are in.
        let engine = try engine(server, http, limits: [:], maxRetries: 10)
        let sink = OutcomeSink()
        let summary = await engine.run(try engine.prepare(items(600)).get(), options: BatchOptions(), onOutcome: sink.append)
        let stats = server.stats()
        #expect(summary.succeeded == 600)
        let share = Double(stats.rateLimited) / Double(stats.requests)
        print("600 items, rpm learned from headers: \(stats.rateLimited) of \(stats.requests) requests got 429")
        #expect(share < 0.05)
        let limiters = engine.statsJSON()["limiters"]
        #expect(limiters?["fake/gpt-4o-mini"]?["rpm_learned"]?.intValue == 6_000)
        await http.shutdown()
        try await server.shutdown()
    }

    /// A per-second limiter with a small burst (30 r/s, 2 back to back), bare 429s and no
    /// rate-limit headers: the strict kind of server.
    private func strictServer(inFlight: Int? = nil, latencyMs: Double = 40) async throws -> FakeLLMServer {
        var configuration = FakeLLMConfiguration()
        if let inFlight {
            configuration.maxInFlight = inFlight
            configuration.concurrencyHintInBody = false
        } else {
            configuration.requestsPerMinute = 1_800
            configuration.requestBurst = 2
        }
        configuration.rateLimitHeaders = false
        configuration.latency = .fixed(milliseconds: latencyMs)
        configuration.recordRequests = false
        return try await FakeLLMServer.start(configuration)
    }

    @Test func aStrictPerSecondServerConfiguredRightDrawsNoRefusals() async throws {
        let server = try await strictServer()
        let http = try HTTPClient()
        let engine = try engine(server, http, limits: ["rpm": 1_800, "concurrency": 100], maxRetries: 2)
        let summary = await engine.run(try engine.prepare(items(90)).get(), options: BatchOptions(concurrency: 100), onOutcome: { _ in })
        let stats = server.stats()
        print("strict fake server, exact: \(stats.rateLimited) of \(stats.requests) refused, \(summary.elapsedMs) ms (ideal ~2,930)")
        #expect(summary.succeeded == 90)
        #expect(stats.rateLimited == 0)
        #expect(summary.elapsedMs <= 2_930 / 0.9)
        await http.shutdown()
        try await server.shutdown()
    }

    @Test func aStrictPerSecondServerConfiguredFiveTimesTooHighOrNotAtAllConverges() async throws {
        for (name, limits) in [("5x", ["rpm": 9_000, "concurrency": 100] as JSONValue), ("unknown", [:])] {
            let server = try await strictServer()
            let http = try HTTPClient()
            let engine = try engine(server, http, limits: limits, maxRetries: 4)
            let summary = await engine.run(try engine.prepare(items(150)).get(), options: BatchOptions(concurrency: 150), onOutcome: { _ in })
            let stats = server.stats()
            let share = Double(stats.rateLimited) / Double(stats.requests)
            print("strict fake server, \(name): \(stats.rateLimited) of \(stats.requests) refused, \(summary.elapsedMs) ms (ideal ~4,930)")
            #expect(summary.succeeded == 150)
            #expect(share <= 0.10)
            #expect(summary.elapsedMs <= 4_930 * 1.5)
            await http.shutdown()
            try await server.shutdown()
        }
    }

    @Test func aServerRefusingAboveKInFlightIsMetAtK() async throws {
        let server = try await strictServer(inFlight: 6, latencyMs: 100)
        let http = try HTTPClient()
        let engine = try engine(server, http, limits: [:], maxRetries: 4)
        let summary = await engine.run(try engine.prepare(items(120)).get(), options: BatchOptions(concurrency: 120), onOutcome: { _ in })
        let stats = server.stats()
        print("strict fake server, K=6: \(stats.rateLimited) of \(stats.requests) refused, \(summary.elapsedMs) ms (ideal 2,000), peak \(stats.peakInFlightAdmitted)")
        #expect(summary.succeeded == 120)
        #expect(Double(stats.rateLimited) / Double(stats.requests) <= 0.10)
        let window = engine.statsJSON()["limiters"]?["fake/gpt-4o-mini"]?["concurrency_effective"]?.intValue ?? 0
        #expect((5...7).contains(window))
        await http.shutdown()
        try await server.shutdown()
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["VOLLEY_SLOW_TESTS"] == "1",
                   "takes half a minute: scripts/test sets VOLLEY_SLOW_TESTS=1"))
    func tokenBudgetThreeTimesTheBucketStaysWithinTheBudget() async throws {
        // TPM = 12,000 (200 tokens/s), and both sides hold 12 s of it (2,400 tokens), full at
        // the start. Each call reserves 100 (prompt) + 500 (max_tokens) = 600 tokens; 12 calls
        // are 7,200 tokens, three buckets: four go at once, the other eight one every 3 s
        // (~24 s). The same shape as a minute's bucket and three minutes' tokens, five times
        // faster: a limiter that ignored token_burst would send all 12 at once.
        var configuration = FakeLLMConfiguration()
        configuration.tokensPerMinute = 12_000
        configuration.burstSeconds = 12
        let server = try await FakeLLMServer.start(configuration)
        let http = try HTTPClient()
        let engine = try engine(server, http, limits: ["tpm": 12_000, "token_burst": 2_400, "concurrency": 100])
        let prompt = String(repeating: "word ", count: 80)  // 400 characters = 100 tokens
        let sink = OutcomeSink()
        let summary = await engine.run(try engine.prepare(items(12, maxTokens: 500, prompt: prompt)).get(),
                                       options: BatchOptions(concurrency: 100), onOutcome: sink.append)
        // The server files a request's record after the response is sent: wait for the last.
        let finished = summary.succeeded + summary.failed
        let stats = try await server.waitForStats { $0.records.count == finished }
        #expect(summary.succeeded == 12)
        #expect(stats.rateLimited == 0)
        // Tokens the server accepted in any 12 s window: at most its bucket (12 s) plus 12 s of
        // refill.
        let records = stats.records.filter { $0.status == 200 }.sorted { $0.receivedAt < $1.receivedAt }
        #expect(records.count == 12)
        for (index, start) in records.enumerated() {
            let window = records[index...].prefix { $0.receivedAt < start.receivedAt + 12 }
            let charged = window.reduce(0) { $0 + $1.inputTokens + 500 }
            #expect(charged <= 4_800)
        }
        await http.shutdown()
        try await server.shutdown()
    }
}
