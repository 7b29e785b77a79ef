import Testing
@testable import VolleyCore

/// The scheduler and its adaptive controller against simulated strict servers, in virtual
/// time: the scenarios (exact, 5x too high, unknown, K in flight, a long Retry-After
/// on every 429, an outage) each run in milliseconds. The same scenarios run against a real
/// nginx in `NginxLimitTests`.
struct LimiterSimulationTests {
    /// Limits as the engine builds them for an HTTP provider.
    static func settings(rpm: Int? = nil, concurrency: Int? = nil) -> LimiterSettings {
        LimiterSettings(concurrency: concurrency ?? 64, rpm: rpm, tpm: nil, adaptive: true,
                        slowStart: rpm == nil && concurrency == nil)
    }

    static func report(_ name: String, _ result: LimiterSimulation<some SimulatedServer>.Result, ideal: Double) {
        let wall = result.finishedAt / ideal
        print("simulation \(name): \(result.refused) of \(result.requests) requests refused (\(Int((result.refusedShare * 1000).rounded()) / 10)%), wall \(result.finishedAt) s = \(wall)x ideal, peak in flight \(result.peakServerInFlight)")
    }

    @Test func configuredAtTheServersRateThereAreNoRefusals() {
        var simulation = LimiterSimulation(server: LeakyBucketServer(rate: 50, burst: 2), settings: Self.settings(rpm: 3_000, concurrency: 1_000))
        let result = simulation.run(items: 300)
        Self.report("exact", result, ideal: 6)
        #expect(result.succeeded == 300)
        #expect(result.refused == 0)
        #expect(result.finishedAt <= 6 / 0.9)
    }

    @Test func configuredFiveTimesTooHighItConvergesWithFewRefusals() {
        var simulation = LimiterSimulation(server: LeakyBucketServer(rate: 50, burst: 2), settings: Self.settings(rpm: 15_000, concurrency: 1_000))
        let result = simulation.run(items: 300)
        Self.report("5x", result, ideal: 6)
        #expect(result.succeeded == 300)
        #expect(result.refusedShare <= 0.05)
        #expect(result.finishedAt <= 6 * 1.25)
        // The controller settled near the server's rate, not the configured one.
        let rate = (simulation.finalControl?.rate ?? 0) * 60
        #expect(rate > 2_400 && rate < 3_300)
    }

    @Test func anUnknownLimitIsFoundWithoutFiringTheWholeConcurrency() {
        var simulation = LimiterSimulation(server: LeakyBucketServer(rate: 50, burst: 2), settings: Self.settings())
        let result = simulation.run(items: 300)
        Self.report("unknown", result, ideal: 6)
        #expect(result.succeeded == 300)
        #expect(result.refusedShare <= 0.10)
        #expect(result.finishedAt <= 6 * 1.5)
    }

    @Test func aServerThatRefusesAboveKInFlightConvergesToK() {
        var simulation = LimiterSimulation(server: ConcurrencyCapServer(limit: 8), settings: Self.settings())
        simulation.latency = 0.2
        let result = simulation.run(items: 600)
        Self.report("K=8", result, ideal: 600 * 0.2 / 8)
        #expect(result.succeeded == 600)
        #expect(result.refusedShare <= 0.10)
        let window = simulation.finalControl?.window ?? 0
        #expect((7...9).contains(window))
        #expect(result.finishedAt <= 600 * 0.2 / 8 * 1.25)
    }

    @Test func aLongRetryAfterOnEveryRefusalDoesNotFreezeTheLimiter() {
        // Configured 5x too high against a server that says "retry after 90 s" on every 429.
        var simulation = LimiterSimulation(server: LeakyBucketServer(rate: 10, burst: 2, retryAfter: 90),
                                           settings: Self.settings(rpm: 3_000, concurrency: 1_000))
        let result = simulation.run(items: 6_000)
        Self.report("retry-after 90", result, ideal: 600)
        #expect(result.succeeded == 6_000)
        // After the first cooldowns it runs close to the server's rate, not at its floor: a
        // probe past the known rate costs 90 s, so it probes rarely.
        #expect(result.acceptedRate(from: 300, to: result.finishedAt) >= 7.5)
    }

    @Test func afterAnOutageTheRateClimbsBackToTheServers() {
        // Configured right; the server refuses everything for five minutes, then recovers.
        let server = OutageServer(until: 300, retryAfter: 90, then: LeakyBucketServer(rate: 10, burst: 2))
        var simulation = LimiterSimulation(server: server, settings: Self.settings(rpm: 600, concurrency: 1_000))
        simulation.retry = RetrySettings(maxRetries: 100)
        let result = simulation.run(items: 5_000)
        Self.report("outage", result, ideal: 500)
        #expect(result.succeeded == 5_000)
        let recovered = result.acceptedAt.first { $0 >= 300 } ?? .infinity
        // Within two minutes of the first accepted request it is back above 90% of the rate.
        #expect(result.acceptedRate(from: recovered + 120, to: result.finishedAt) >= 9)
    }
}

