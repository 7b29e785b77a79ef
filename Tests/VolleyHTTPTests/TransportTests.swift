import FakeLLM
import Foundation
import Testing
import VolleyTestSupport
@testable import VolleyHTTP

/// The transport against the SwiftNIO fake server: pooling, cancellation, timeouts, streaming.
@Suite(.tags(.timeSensitive)) struct TransportTests {
    @Test func thousandConcurrentRequestsReuseAtMostMaxPerHostConnections() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient(configuration: HTTPClientConfiguration(maxConnectionsPerHost: 8))
        let results = try await withThrowingTaskGroup(of: (Int, HTTPResponse).self) { group in
            for index in 0..<1000 {
                group.addTask {
                    (index, try await client.execute(chatRequest(server, prompt: "prompt number \(index)")))
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 1000)
        for (index, response) in results {
            #expect(response.status == 200)
            // The fake server echoes the prompt: each caller got its own response.
            #expect(response.text.contains("Echo: prompt number \(index)"), "item \(index): \(response.text)")
        }
        let stats = server.stats()
        #expect(stats.requests == 1000)
        #expect(stats.connectionsAccepted <= 8)
        #expect(stats.peakConnections <= 8)
        let pool = client.stats
        #expect(pool.transfersOnReusedConnections >= 1000 - 8)
        #expect(pool.transfersRunning == 0 && pool.transfersWaiting == 0)
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func aReusedHandleCarriesNothingOverFromItsLastTransfer() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient()
        // One request at a time: each one gets the handle the previous one gave back.
        let first = try await client.execute(chatRequest(server, prompt: "first", timeoutSeconds: 0.25))
        #expect(first.status == 200)
        // No timeout of its own: the last transfer's 0.25 s must not cut a 600 ms answer short.
        let slow = try await client.execute(chatRequest(server, prompt: "slow", script: ["latency_ms": "600"], timeoutSeconds: nil))
        #expect(slow.status == 200)
        // A GET after POSTs sends no body and stays a GET (the fake answers a POST here with 404).
        let models = try await client.execute(HTTPRequest(url: server.baseURL + "/v1/models", timeoutSeconds: 5))
        #expect(models.status == 200, "\(models.text)")
        let custom = try await client.execute(HTTPRequest(url: server.baseURL + "/v1/nothing", method: "DELETE", timeoutSeconds: 5))
        #expect(custom.status == 404)
        #expect(custom.text.contains("DELETE /v1/nothing"), "\(custom.text)")
        // And a POST after the custom method is a POST again, with this request's body.
        let again = try await client.execute(chatRequest(server, prompt: "again"))
        #expect(again.status == 200)
        #expect(again.text.contains("Echo: again"), "\(again.text)")
        #expect(client.stats.easyHandlesCreated == 1)
        // A transfer that failed does not give its handle back: the next one makes a new one.
        let kind = await errorKind { _ = try await client.execute(chatRequest(server, script: ["mode": "reset"])) }
        #expect(kind == .connectionLost)
        let after = try await client.execute(chatRequest(server, prompt: "after"))
        #expect(after.text.contains("Echo: after"))
        #expect(client.stats.easyHandlesCreated == 2)
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func transferInfoReportsTheConnectionAndTheTimings() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient()
        // The server holds this answer 300 ms: the first byte cannot come sooner.
        let first = try await client.execute(chatRequest(server, prompt: "slow", script: ["latency_ms": "300"]))
        #expect(first.status == 200)
        #expect(!first.info.connectionReused)
        #expect(first.info.httpVersion == .http1_1)
        #expect(first.info.connectSeconds > 0 && first.info.connectSeconds < first.info.timeToFirstByteSeconds)
        #expect(first.info.timeToFirstByteSeconds >= 0.3)
        #expect(first.info.totalSeconds >= first.info.timeToFirstByteSeconds)
        #expect(first.info.totalSeconds < 10)
        // The next one reuses the connection: no connect time, and its own (short) timings.
        let second = try await client.execute(chatRequest(server, prompt: "fast"))
        #expect(second.info.connectionReused)
        #expect(second.info.connectSeconds == 0)
        #expect(second.info.timeToFirstByteSeconds < 0.3)
        #expect(second.info.totalSeconds >= second.info.timeToFirstByteSeconds)
        #expect(second.info.retryAfterSeconds == nil)
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func aPooledConnectionTheServerClosesIsDroppedWithoutBusyWaiting() async throws {
        var configuration = FakeLLMConfiguration()
        configuration.idleTimeoutSeconds = 0.2
        let server = try await FakeLLMServer.start(configuration)
        let client = try HTTPClient()
        #expect(try await client.execute(chatRequest(server, prompt: "one")).status == 200)
        // The server closes the idle pooled connection; the client's socket sees end-of-file
        // although no transfer is watching it.
        _ = try await server.waitForStats { $0.connectionsAccepted == 1 && $0.connectionsOpen == 0 }
        let before = client.stats.eventLoopWakeups
        // Not a wait for something to happen: a loop that kept polling the dead socket would
        // wake thousands of times in this interval; a quiet one wakes for the close only.
        try await Task.sleep(for: .milliseconds(300))
        let wakeups = client.stats.eventLoopWakeups - before
        #expect(wakeups <= 5, "the transport woke \(wakeups) times while idle")
        // The next request gets a fresh connection.
        let again = try await client.execute(chatRequest(server, prompt: "two"))
        #expect(again.text.contains("Echo: two"))
        #expect(server.stats().connectionsAccepted == 2)
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func cancellingHundredInFlightRequestsAbortsEachAndThePoolKeepsWorking() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient(configuration: HTTPClientConfiguration(maxConnectionsPerHost: 100))
        let tasks = (0..<100).map { _ in
            Task {
                let kind = await errorKind {
                    _ = try await client.execute(chatRequest(server, script: ["mode": "stall_headers"], timeoutSeconds: 60))
                }
                return (kind, ContinuousClock.now)
            }
        }
        // All 100 are really in flight at the server before we cancel.
        try await server.waitForStats { $0.inFlight == 100 }
        let cancelAt = ContinuousClock.now
        for task in tasks { task.cancel() }
        var kinds: [HTTPClientError.Kind?] = []
        var worst = Duration.zero
        for task in tasks {
            let (kind, endedAt) = await task.value
            kinds.append(kind)
            worst = max(worst, endedAt - cancelAt)
        }
        #expect(kinds.allSatisfy { $0 == .cancelled })
        // The server saw every transfer go away: they were aborted, not left running.
        try await server.waitForStats { $0.clientDisconnectsBeforeResponseEnd == 100 }
        #expect(client.stats.transfersRunning == 0 && client.stats.transfersWaiting == 0)
        // Reported, not asserted (no timed assertions in tests): the issue's 100 ms target.
        print("cancel → caller resumed: worst \(worst) over 100 transfers")
        // The pool still works.
        let after = try await client.execute(chatRequest(server, prompt: "after"))
        #expect(after.status == 200 && after.text.contains("Echo: after"))
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func cancellingBeforeStartNeverSendsTheRequest() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient()
        let task = Task {
            await errorKind {
                withUnsafeCurrentTask { $0?.cancel() }
                _ = try await client.execute(chatRequest(server))
            }
        }
        #expect(await task.value == .cancelled)
        let ok = try await client.execute(chatRequest(server, prompt: "second"))
        #expect(ok.status == 200)
        #expect(server.stats().requests == 1)
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func totalTimeoutFires() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient()
        let kind = await errorKind {
            _ = try await client.execute(chatRequest(server, script: ["mode": "stall_headers"], timeoutSeconds: 0.3))
        }
        #expect(kind == .timeout)
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func stalledBodyFiresTheStallTimeoutNotTheTotal() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient()
        let kind = await errorKind {
            _ = try await client.execute(chatRequest(server, script: ["mode": "stall"], timeoutSeconds: 30, stallSeconds: 1,
                                                   stallMinimumBytesPerSecond: 1000))
        }
        #expect(kind == .stalled)
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func connectTimeoutFiresWhenTheHandshakeNeverCompletes() async throws {
        // A server that accepts TCP and never speaks: the TLS handshake (part of connect) hangs.
        var configuration = FakeLLMConfiguration()
        configuration.silent = true
        let server = try await FakeLLMServer.start(configuration)
        let client = try HTTPClient()
        let request = HTTPRequest(url: "https://127.0.0.1:\(server.port)/v1/models", connectTimeoutSeconds: 0.3, timeoutSeconds: 30)
        let kind = await errorKind { _ = try await client.execute(request) }
        #expect(kind == .connectTimeout)
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func refusedConnectionIsConnectionFailed() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let url = server.baseURL + "/v1/models"
        try await server.shutdown()
        let client = try HTTPClient()
        let kind = await errorKind { _ = try await client.execute(HTTPRequest(url: url, timeoutSeconds: 5)) }
        #expect(kind == .connectionFailed)
        await client.shutdown()
    }

    @Test func resetMidBodyIsConnectionLost() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient()
        let kind = await errorKind { _ = try await client.execute(chatRequest(server, script: ["mode": "reset"])) }
        #expect(kind == .connectionLost)
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func errorStatusIsAResponseWithHeadersAndRetryAfter() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient()
        let response = try await client.execute(chatRequest(server, script: ["mode": "rate_limit", "retry_after": "7"]))
        #expect(response.status == 429)
        #expect(response.headers["retry-after"] == "7")
        #expect(response.info.retryAfterSeconds == 7)
        #expect(response.text.contains("rate_limit_exceeded"))
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func invalidURLFailsOnlyThatRequest() async throws {
        let client = try HTTPClient()
        let kind = await errorKind { _ = try await client.execute(HTTPRequest(url: "ftp://example.invalid/x")) }
        #expect(kind == .invalidRequest)
        let bad = await errorKind { _ = try await client.execute(HTTPRequest(url: "not a url")) }
        #expect(bad == .invalidRequest)
        await client.shutdown()
    }

    @Test func shutdownFailsWaitingAndRunningTransfers() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient(configuration: HTTPClientConfiguration(maxConnectionsPerHost: 1))
        // One running (stalled) and one waiting for the single connection.
        let running = Task { await errorKind { _ = try await client.execute(chatRequest(server, script: ["mode": "stall_headers"])) } }
        let waiting = Task { await errorKind { _ = try await client.execute(chatRequest(server, script: ["mode": "stall_headers"])) } }
        try await server.waitForStats { $0.inFlight == 1 }
        await waitUntil("a transfer waiting for the single connection") { client.stats.transfersWaiting >= 1 }
        await client.shutdown()
        #expect(await running.value == .shutdown)
        #expect(await waiting.value == .shutdown)
        let later = await errorKind { _ = try await client.execute(chatRequest(server)) }
        #expect(later == .shutdown)
        try await server.shutdown()
    }
}

@Suite(.tags(.timeSensitive)) struct ResponseLimitTests {
    @Test func bodyBeyondTheLimitFailsThatTransferOnly() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient(configuration: HTTPClientConfiguration(maxResponseBytes: 2_000))
        var big = chatRequest(server, script: ["output_tokens": "2000"])
        big.body = Array(#"{"model":"m","max_tokens":4000,"messages":[{"role":"user","content":"long"}]}"#.utf8)
        let kind = await errorKind { _ = try await client.execute(big) }
        #expect(kind == .responseTooLarge)
        // A small one still works on the same client.
        let ok = try await client.execute(chatRequest(server, prompt: "short"))
        #expect(ok.status == 200 && ok.body.count < 2_000)
        await client.shutdown()
        try await server.shutdown()
    }
}
