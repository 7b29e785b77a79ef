import Foundation
import Testing
import VolleyHTTP
import VolleyTestSupport
@testable import VolleyCore

/// The limiter against a real nginx enforcing gateway-style limits: `limit_req` (a per-second
/// leaky bucket with a small burst, bare 429s without Retry-After or rate-limit headers) and
/// `limit_conn` (a cap on requests in flight). nginx's access log is the judge: what it
/// accepted and refused, and when.
@Suite(.serialized, .tags(.timeSensitive)) struct NginxLimitTests {
    private func items(_ count: Int) -> [JSONValue] {
        (0..<count).map { index in
            ["key": .string("k\(index)"), "provider": "gw",
             "request": ["model": "gpt-4o-mini", "max_tokens": 8, "messages": [["role": "user", "content": "hello"]]]]
        }
    }

    private func engine(_ server: NginxLimitServer, _ http: HTTPClient, limits: JSONValue) throws -> Engine {
        let engine = Engine(http: http, environment: [:])
        try engine.configure(providers: ["gw": [
            "kind": "openai", "base_url": .string(server.baseURL), "api_key": "k", "limits": limits,
        ]], defaultProvider: nil)
        return engine
    }

    private struct Figures: CustomStringConvertible {
        var requests: Int
        var refused: Int
        var seconds: Double
        var ideal: Double
        var acceptedPerSecond: Double
        var peakInFlight: Int

        var refusedShare: Double { requests == 0 ? 0 : Double(refused) / Double(requests) }
        var wallRatio: Double { seconds / ideal }

        var description: String {
            "\(refused) of \(requests) requests refused (\((refusedShare * 1000).rounded() / 10)%), wall \((seconds * 100).rounded() / 100) s = \((wallRatio * 100).rounded() / 100)x ideal, accepted \((acceptedPerSecond * 10).rounded() / 10)/s, peak in flight \(peakInFlight)"
        }
    }

    /// Runs `count` items against `server` and reads nginx's log.
    private func run(_ count: Int, _ server: NginxLimitServer, limits: JSONValue, ideal: Double,
                     name: String) async throws -> (BatchSummary, Figures, Engine) {
        let http = try HTTPClient()
        let engine = try engine(server, http, limits: limits)
        let summary = await engine.run(try engine.prepare(items(count)).get(), options: BatchOptions(concurrency: 1_000),
                                       onOutcome: { _ in })
        await http.shutdown()
        let log = try server.accessLog()
        let figures = Figures(requests: log.requests, refused: log.rateLimited, seconds: summary.elapsedMs / 1000,
                              ideal: ideal, acceptedPerSecond: log.acceptedPerSecond(), peakInFlight: log.peakConcurrentAccepted())
        print("nginx \(name): \(figures)")
        return (summary, figures, engine)
    }

    @Test func configuredAtTheServersRateThereAreNoRefusals() async throws {
        // 25 r/s, burst 2: 100 items ideally take (100 - 3) / 25 = 3.9 s.
        let server = try await NginxLimitServer.start(limit: .rate(perSecond: 25, burst: 2), latencyMs: 50)
        let (summary, figures, _) = try await run(100, server, limits: ["rpm": 1_500, "concurrency": 200], ideal: 3.9, name: "exact")
        await server.shutdown()
        #expect(summary.succeeded == 100)
        #expect(figures.refused == 0)
        #expect(figures.acceptedPerSecond >= 0.9 * 25)
    }

    @Test func configuredFiveTimesTooHighFewRefusalsAndNearTheIdealTime() async throws {
        let server = try await NginxLimitServer.start(limit: .rate(perSecond: 25, burst: 2), latencyMs: 50)
        // 200 items, ideally (200 - 3) / 25 = 7.9 s: the refusals are the few it takes to find the rate.
        let (summary, figures, engine) = try await run(200, server, limits: ["rpm": 7_500, "concurrency": 200], ideal: 7.9, name: "5x")
        await server.shutdown()
        #expect(summary.succeeded == 200)
        #expect(figures.refusedShare <= 0.05)
        #expect(figures.wallRatio <= 1.25)
        // The adapted rate is in stats, near the server's 1,500 per minute, not the configured 7,500.
        let effective = engine.statsJSON()["limiters"]?["gw/gpt-4o-mini"]?["rpm_effective"]?.doubleValue ?? 0
        #expect(effective > 1_000 && effective < 1_800)
    }

    @Test func anUnknownLimitWithBare429sIsFoundWithFewRefusals() async throws {
        let server = try await NginxLimitServer.start(limit: .rate(perSecond: 25, burst: 2), latencyMs: 50)
        // Nothing configured: no rpm, the default concurrency, no headers from the server.
        let (summary, figures, _) = try await run(100, server, limits: [:], ideal: 3.9, name: "unknown")
        await server.shutdown()
        #expect(summary.succeeded == 100)
        #expect(figures.refusedShare <= 0.10)
        #expect(figures.wallRatio <= 1.5)
    }

    @Test func aServerThatRefusesAboveKInFlightConvergesToK() async throws {
        // 8 in flight, 200 ms each: 200 items ideally take 200 * 0.2 / 8 = 5 s.
        let server = try await NginxLimitServer.start(limit: .inFlight(8), latencyMs: 200)
        let (summary, figures, engine) = try await run(200, server, limits: [:], ideal: 5, name: "K=8")
        await server.shutdown()
        #expect(summary.succeeded == 200)
        #expect(figures.refusedShare <= 0.10)
        #expect(figures.peakInFlight == 8)
        let window = engine.statsJSON()["limiters"]?["gw/gpt-4o-mini"]?["concurrency_effective"]?.intValue ?? 0
        #expect((7...9).contains(window))
        #expect(figures.wallRatio <= 1.25)
    }
}
