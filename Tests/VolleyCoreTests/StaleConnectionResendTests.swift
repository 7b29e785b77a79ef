import FakeLLMTestSupport
import Testing
import VolleyTestSupport
@testable import VolleyCore
import VolleySystem

/// Stale pooled connections over real sockets: a server that resets a kept-alive connection
/// when the next request arrives on it (what a load balancer does with a connection it already
/// forgot after idle, a race libcurl's check before reuse cannot see). libcurl itself resends a
/// request that died on a reused connection, on another pooled one, five times; with more
/// stale connections pooled than that it gives up (`CURLE_SEND_ERROR`, "Connection died")
/// and the call fails, which is how a burst after idle loses calls. Volley resends it once on
/// a new connection inside the attempt: the item succeeds with `max_retries: 0` and no retry.
@Suite(.serialized, .tags(.timeSensitive)) struct StaleConnectionResendTests {
    @Test func aRequestOnlyStaleConnectionsWouldTakeIsResentOnANewOne() async throws {
        let pooled = 8
        let server = try await ResettingHTTPServer.start(holdUntil: pooled)
        let engine = try Engine(maxConnectionsPerHost: pooled, environment: [:])
        try engine.configure(providers: [
            "gw": ["kind": "openai", "base_url": .string("http://127.0.0.1:\(server.port)/v1"), "api_key": "k",
                   "retry": ["max_retries": 0]],
        ], defaultProvider: "gw")
        let errors = Locked<[String]>([])
        func run(_ count: Int) async throws -> Int {
            let items: [JSONValue] = (0..<count).map { index in
                ["key": .string("k\(index)"), "request": ["model": "m", "messages": [["role": "user", "content": "hello"]]]]
            }
            let summary = await engine.run(try engine.prepare(items).get(), options: BatchOptions(concurrency: count),
                                           onOutcome: { outcome in
                                               if let error = outcome.error { errors.withLock { $0.append(error.message) } }
                                           })
            return summary.succeeded
        }
        // Fill the pool: the server answers none until all eight are in, so each has its own connection.
        #expect(try await run(pooled) == pooled)
        #expect(server.connections == pooled)
        // Every pooled connection is now stale. One call: libcurl tries up to six of them, then Volley a new one.
        server.makeExistingConnectionsStale()
        #expect(try await run(1) == 1, "\(errors.withLock { $0 })")
        #expect(server.resets >= 6, "libcurl gave up after \(server.resets) stale connections")
        #expect(server.connections == pooled + 1)
        #expect(engine.stats().counters.retries == 0)
        await engine.shutdown()
        try await server.shutdown()
    }
}
