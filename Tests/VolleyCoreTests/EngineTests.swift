import FakeLLM
import Testing
import VolleyHTTP
import VolleyTestSupport
@testable import VolleyCore
import VolleySystem

/// Collects outcomes from the engine's concurrent callback.
final class OutcomeSink: Sendable {
    private let outcomes = Locked<[Outcome]>([])

    func append(_ outcome: Outcome) { outcomes.withLock { $0.append(outcome) } }
    var all: [Outcome] { outcomes.withLock { $0 } }
}

func mockItem(_ index: Int, latencyMs: Int = 1, script: JSONObject = [:], timeout: Double? = nil, maxRetries: Int? = nil) -> JSONValue {
    var mock = script
    mock["latency_ms"] = .number(JSONNumber(latencyMs))
    var item: JSONObject = [
        "key": .string("k\(index)"),
        "provider": "mock",
        "request": .object(["model": "mock-1", "messages": [["role": "user", "content": .string("prompt \(index)")]], "mock": .object(mock)]),
    ]
    if let timeout { item["timeout"] = .number(JSONNumber(timeout) ?? 1) }
    if let maxRetries { item["max_retries"] = .number(JSONNumber(maxRetries)) }
    return .object(item)
}

/// An engine whose mock provider retries fast, so retry tests take milliseconds.
func makeEngine(http: HTTPClient, extra: JSONValue? = nil) throws -> Engine {
    let engine = Engine(http: http, environment: [:])
    try engine.configure(providers: ["mock": ["kind": "mock", "retry": ["max_retries": 2, "initial_delay": 0.001, "max_delay": 0.002]]], defaultProvider: nil)
    if let extra { try engine.configure(providers: extra, defaultProvider: nil) }
    return engine
}

@Suite(.tags(.timeSensitive)) struct EngineMockTests {
    @Test func everyItemGetsExactlyOneOutcomeWithItsKey() async throws {
        let http = try HTTPClient()
        let engine = try makeEngine(http: http)
        let requests = (0..<200).map { mockItem($0, latencyMs: ($0 * 7) % 20) }
        let items = try engine.prepare(requests).get()
        let sink = OutcomeSink()
        let summary = await engine.run(items, options: BatchOptions(concurrency: 50), onOutcome: sink.append)
        let outcomes = sink.all
        #expect(outcomes.count == 200)
        #expect(Set(outcomes.map(\.index)) == Set(0..<200))
        for outcome in outcomes {
            #expect(outcome.key == "k\(outcome.index)")
            let value = try outcome.result.get()
            #expect(value.text == "Mock reply to: prompt \(outcome.index)")
            #expect(outcome.attempts == 1)
        }
        #expect(summary.succeeded == 200 && summary.failed == 0)
        #expect(summary.usage.inputTokens > 0)
        await http.shutdown()
    }

    @Test func retriesUntilSuccessAndCountsAttempts() async throws {
        let http = try HTTPClient()
        let engine = try makeEngine(http: http)
        let requests = [
            mockItem(0, script: ["fail": "rate_limited", "fail_attempts": 2]),
            mockItem(1, script: ["fail": "overloaded", "fail_attempts": 5]),
            mockItem(2, script: ["fail": "quota_exceeded"]),
            mockItem(3, script: ["fail": "http", "status": 400]),
        ]
        let sink = OutcomeSink()
        _ = await engine.run(try engine.prepare(requests).get(), options: BatchOptions(), onOutcome: sink.append)
        let byIndex = Dictionary(uniqueKeysWithValues: sink.all.map { ($0.index, $0) })
        #expect(byIndex[0]?.isSuccess == true && byIndex[0]?.attempts == 3)
        #expect(byIndex[1]?.error?.kind == .overloaded && byIndex[1]?.attempts == 3)  // 1 + max_retries 2
        #expect(byIndex[2]?.error?.kind == .quotaExceeded && byIndex[2]?.attempts == 1)  // final: not retried
        #expect(byIndex[3]?.error?.kind == .http && byIndex[3]?.attempts == 1)
        #expect(byIndex[3]?.error?.status == 400)
        await http.shutdown()
    }

    @Test func failFastCancelsTheRest() async throws {
        let http = try HTTPClient()
        let engine = try makeEngine(http: http)
        var requests = [mockItem(0, script: ["fail": "http", "status": 400])]
        requests += (1..<100).map { mockItem($0, latencyMs: 60_000) }
        let sink = OutcomeSink()
        let summary = await engine.run(try engine.prepare(requests).get(),
                                       options: BatchOptions(concurrency: 10, failFast: true), onOutcome: sink.append)
        guard case .failFast(let first)? = summary.stop else {
            Issue.record("no fail_fast stop")
            return
        }
        #expect(first.index == 0)
        #expect(summary.failed == 1 && summary.cancelled == 99)
        #expect(sink.all.count == 100)
        await http.shutdown()
    }

    // Batch and item timeouts run in virtual time: VirtualTimeEngineTests.

    @Test func cancellingTheBatchAccountsForEveryItem() async throws {
        let http = try HTTPClient()
        let engine = try makeEngine(http: http)
        let requests = (0..<50).map { mockItem($0, latencyMs: $0 < 10 ? 1 : 60_000) }
        let sink = OutcomeSink()
        let items = try engine.prepare(requests).get()
        let task = Task { await engine.run(items, options: BatchOptions(concurrency: 20), onOutcome: sink.append) }
        await waitUntil("the ten quick items finished") { sink.all.count >= 10 }
        task.cancel()
        let summary = await task.value
        #expect(summary.succeeded == 10)
        #expect(summary.cancelled == 40)
        #expect(summary.succeeded + summary.cancelled == 50)
        #expect(Set(sink.all.map(\.index)).count == 50)
        await http.shutdown()
    }

    @Test func malformedItemsBecomeOutcomesAndUnknownProvidersRejectTheBatch() async throws {
        let http = try HTTPClient()
        let engine = try makeEngine(http: http)
        let items = try engine.prepare([mockItem(0), ["key": "bad", "request": "not an object"], 7]).get()
        let sink = OutcomeSink()
        _ = await engine.run(items, options: BatchOptions(), onOutcome: sink.append)
        let byIndex = Dictionary(uniqueKeysWithValues: sink.all.map { ($0.index, $0) })
        #expect(byIndex[0]?.isSuccess == true)
        #expect(byIndex[1]?.error?.kind == .invalidRequest && byIndex[1]?.key == "bad")
        #expect(byIndex[2]?.error?.kind == .invalidRequest && byIndex[2]?.attempts == 0)
        guard case .failure(let rejection) = engine.prepare([mockItem(0), ["provider": "nope", "request": [:]]]) else {
            Issue.record("unknown provider accepted")
            return
        }
        #expect(rejection.index == 1 && rejection.message.contains("nope"))
        await http.shutdown()
    }
}

@Suite(.tags(.timeSensitive)) struct EngineFakeServerTests {
    @Test func mixedOutcomesAgainstTheFakeServer() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let http = try HTTPClient()
        let engine = try makeEngine(http: http, extra: [
            "fake": ["kind": "openai", "base_url": .string(server.baseURL + "/v1"), "api_key": "sk-fake-key-000",
                     "retry": ["max_retries": 1, "initial_delay": 0.001, "max_delay": 0.002]],
        ])
        func item(_ index: Int, fake: JSONObject) -> JSONValue {
            var request: JSONObject = ["model": "gpt-4o-mini", "max_tokens": 16,
                                       "messages": [["role": "user", "content": .string("question \(index)")]], "fake": .object(fake)]
            if fake["tool_call"] != nil {
                request["tools"] = [["type": "function", "function": ["name": "lookup", "parameters": ["type": "object"]]]]
            }
            return ["key": .string("k\(index)"), "provider": "fake", "request": .object(request)]
        }
        let requests: [JSONValue] = [
            item(0, fake: [:]),
            item(1, fake: ["status": 500]),
            item(2, fake: ["mode": "malformed"]),
            item(3, fake: ["mode": "insufficient_quota"]),
            item(4, fake: ["status": 400]),
            item(5, fake: ["tool_call": true]),
            item(6, fake: ["mode": "rate_limit", "retry_after_ms": 5]),
        ]
        let sink = OutcomeSink()
        _ = await engine.run(try engine.prepare(requests).get(), options: BatchOptions(), onOutcome: sink.append)
        let byIndex = Dictionary(uniqueKeysWithValues: sink.all.map { ($0.index, $0) })
        let ok = try #require(try byIndex[0]?.result.get())
        #expect(ok.text?.contains("Echo: question 0") == true)
        #expect(ok.finishReason == "stop" && ok.model == "gpt-4o-mini")
        #expect((ok.usage?.inputTokens ?? 0) > 0 && (ok.usage?.outputTokens ?? 0) > 0)
        #expect(byIndex[1]?.error?.kind == .http && byIndex[1]?.attempts == 2)
        #expect(byIndex[2]?.error?.kind == .providerError && byIndex[2]?.attempts == 1)
        #expect(byIndex[3]?.error?.kind == .quotaExceeded && byIndex[3]?.attempts == 1)
        #expect(byIndex[4]?.error?.kind == .http && byIndex[4]?.attempts == 1)
        let tool = try #require(try byIndex[5]?.result.get())
        #expect(tool.finishReason == "tool_calls" && tool.toolCalls?[0]?["type"] == "function")
        #expect(byIndex[6]?.error?.kind == .rateLimited && byIndex[6]?.attempts == 2)
        #expect(server.stats().requests == 1 + 2 + 1 + 1 + 1 + 1 + 2)
        for outcome in sink.all {
            #expect(!(outcome.error?.message.contains("sk-fake-key-000") ?? false))
        }
        await http.shutdown()
        try await server.shutdown()
    }

    @Test func batchConcurrencyCapsInFlightRequests() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let http = try HTTPClient()
        let engine = try makeEngine(http: http, extra: ["fake": ["kind": "openai", "base_url": .string(server.baseURL + "/v1"), "api_key": "k"]])
        let requests: [JSONValue] = (0..<60).map { index in
            ["provider": "fake", "request": ["model": "m", "messages": [["role": "user", "content": "x"]], "fake": ["latency_ms": 20]]]
        }
        let sink = OutcomeSink()
        let summary = await engine.run(try engine.prepare(requests).get(), options: BatchOptions(concurrency: 5), onOutcome: sink.append)
        #expect(summary.succeeded == 60)
        #expect(server.stats().peakInFlight <= 5)
        #expect(server.stats().peakInFlight >= 2)
        await http.shutdown()
        try await server.shutdown()
    }
}

@Suite(.tags(.timeSensitive)) struct AnthropicFakeServerTests {
    @Test func translatedAndNativeRequestsAndOverloadedRetries() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let http = try HTTPClient()
        let engine = try makeEngine(http: http, extra: [
            "claude": ["kind": "anthropic", "base_url": .string(server.baseURL + "/v1"), "api_key": "sk-ant-fake", "limits": ["rpm": 60_000],
                       "retry": ["max_retries": 2, "initial_delay": 0.001, "max_delay": 0.002]],
        ])
        let requests: [JSONValue] = [
            // OpenAI-shaped, translated: system prompt, no max_tokens (a default is supplied).
            ["provider": "claude", "request": ["model": "claude-x", "messages": [
                ["role": "system", "content": "be brief"], ["role": "user", "content": "question one"]]]],
            // Native Messages body, sent unchanged.
            ["provider": "claude", "format": "native", "request": [
                "model": "claude-x", "max_tokens": 5, "messages": [["role": "user", "content": "question two"]]]],
            // 529 overloaded: retried, then reported as overloaded.
            ["provider": "claude", "request": ["model": "claude-x", "messages": [["role": "user", "content": "x"]], "fake": ["status": 529]]],
        ]
        let sink = OutcomeSink()
        _ = await engine.run(try engine.prepare(requests).get(), options: BatchOptions(), onOutcome: sink.append)
        let byIndex = Dictionary(uniqueKeysWithValues: sink.all.map { ($0.index, $0) })
        let first = try #require(try byIndex[0]?.result.get())
        #expect(first.text?.contains("Echo: question one") == true)
        #expect(first.finishReason == "stop" || first.finishReason == "length")
        #expect((first.usage?.inputTokens ?? 0) > 0)
        let second = try #require(try byIndex[1]?.result.get())
        #expect(second.text?.contains("question two") == true)
        #expect(second.finishReason == "length")  // max_tokens 5 is below the fake's 16.
        #expect(byIndex[2]?.error?.kind == .overloaded && byIndex[2]?.attempts == 3 && byIndex[2]?.error?.status == 529)
        let records = server.stats().records
        #expect(records.allSatisfy { $0.path == "/v1/messages" })
        await http.shutdown()
        try await server.shutdown()
    }
}

@Suite(.tags(.timeSensitive)) struct EngineQueueingTests {
    @Test func itemsQueuedAtAProviderLimitRunInTurnAndCancelCleanly() async throws {
        let http = try HTTPClient()
        let engine = Engine(http: http, environment: [:])
        try engine.configure(providers: ["mock": ["kind": "mock", "limits": ["concurrency": 2]]], defaultProvider: nil)
        // 20 items, 2 at a time at the provider: most wait in the scheduler's queue.
        let quick = (0..<20).map { mockItem($0, latencyMs: 1) }
        let sink = OutcomeSink()
        let summary = await engine.run(try engine.prepare(quick).get(), options: BatchOptions(concurrency: 20), onOutcome: sink.append)
        #expect(summary.succeeded == 20)
        #expect(engine.statsJSON()["limiters"]?["mock/mock-1"]?["in_flight"]?.intValue == 0)

        // Cancelled while queued: every waiter leaves the queue and the permits come back.
        let slow = (0..<20).map { mockItem($0, latencyMs: 60_000) }
        let items = try engine.prepare(slow).get()
        let cancelled = OutcomeSink()
        let task = Task { await engine.run(items, options: BatchOptions(concurrency: 20), onOutcome: cancelled.append) }
        await waitUntil("18 items queued at mock/mock-1") {
            (engine.statsJSON()["limiters"]?["mock/mock-1"]?["queued"]?.intValue ?? 0) >= 18
        }
        task.cancel()
        let stopped = await task.value
        #expect(stopped.cancelled == 20)
        let limiter = engine.statsJSON()["limiters"]?["mock/mock-1"]
        #expect(limiter?["in_flight"]?.intValue == 0 && limiter?["queued"]?.intValue == 0)
        // And the limiter still admits work afterwards.
        let after = await engine.run(try engine.prepare([mockItem(0, latencyMs: 0)]).get(), options: BatchOptions(), onOutcome: { _ in })
        #expect(after.succeeded == 1)
        await http.shutdown()
    }
}

@Suite(.tags(.timeSensitive)) struct EngineRetryFakeServerTests {
    @Test func resetsStallsAndServerHintsGetTheRightKindsAndAttempts() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let http = try HTTPClient()
        let engine = try makeEngine(http: http, extra: [
            "fake": ["kind": "openai", "base_url": .string(server.baseURL + "/v1"), "api_key": "k",
                     "timeouts": ["request": 0.3],
                     "retry": ["max_retries": 2, "initial_delay": 0.001, "max_delay": 0.002]],
        ])
        func item(_ fake: JSONObject) -> JSONValue {
            ["provider": "fake", "request": ["model": "m", "messages": [["role": "user", "content": "x"]], "fake": .object(fake)]]
        }
        let requests: [JSONValue] = [
            item(["mode": "reset"]),                          // connection lost mid-body: retried
            item(["mode": "stall_headers"]),                  // no answer within timeouts.request: retried
            item(["status": 500, "should_retry": false]),     // the server says do not retry
            item(["status": 400, "should_retry": true]),      // ... or do
            item(["status": 529]),                            // overloaded: retried
        ]
        let sink = OutcomeSink()
        _ = await engine.run(try engine.prepare(requests).get(), options: BatchOptions(), onOutcome: sink.append)
        let byIndex = Dictionary(uniqueKeysWithValues: sink.all.map { ($0.index, $0) })
        #expect(byIndex[0]?.error?.kind == .connection && byIndex[0]?.attempts == 3)
        #expect(byIndex[1]?.error?.kind == .timeout && byIndex[1]?.attempts == 3)
        #expect(byIndex[2]?.error?.kind == .http && byIndex[2]?.attempts == 1)
        #expect(byIndex[3]?.error?.kind == .http && byIndex[3]?.attempts == 3)
        #expect(byIndex[4]?.error?.kind == .overloaded && byIndex[4]?.attempts == 3)
        // Each of the three stalled attempts was really aborted (the resets were the server's doing).
        try await server.waitForStats { $0.clientDisconnectsBeforeResponseEnd == 3 }
        await http.shutdown()
        try await server.shutdown()
    }
}
