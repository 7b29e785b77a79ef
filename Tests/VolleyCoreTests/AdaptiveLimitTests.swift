import Testing
@testable import VolleyCore

/// The controller's single decisions, in virtual time (the scenarios are in
/// `LimiterSimulationTests`).
struct AdaptiveLimitTests {
    typealias Ticket = AdaptiveLimit.Ticket

    @Test func aRetryAfterCoolsDownFromNowCappedAndJitteredAndEarlierRequestsNeverExtendIt() {
        var limit = AdaptiveLimit(concurrency: 10, rpm: 600, burst: nil, slowStart: false, adapts: true)
        // 90 s asked, 60 s allowed: 60 s plus up to 10% (at most 1 s) of jitter.
        limit.refused(Ticket(startedAt: 9, inFlight: 1), .init(retryAfter: 90), backlog: true, maxRetryAfter: 60,
                      barePause: 0.5, random: 0.5, now: 10)
        #expect(limit.cooldownUntil == 10 + 60 + 0.5)
        // A request sent before that cooldown began comes back refused later, with another long
        // hint: the same congestion, so the cooldown stays where it is.
        limit.refused(Ticket(startedAt: 9.5, inFlight: 2), .init(retryAfter: 90), backlog: true, maxRetryAfter: 60,
                      barePause: 0.5, random: 0.9, now: 30)
        #expect(limit.cooldownUntil == 70.5)
        // A request sent after it began sets it from its own arrival: the latest hint, from now.
        limit.refused(Ticket(startedAt: 71, inFlight: 1), .init(retryAfter: 5), backlog: true, maxRetryAfter: 60,
                      barePause: 0.5, random: 0, now: 72)
        #expect(limit.cooldownUntil == 77)
    }

    @Test func oneCutPerCongestionAndNeverBelowHalf() {
        var limit = AdaptiveLimit(concurrency: 100, rpm: 6_000, burst: nil, slowStart: false, adapts: true)
        // 100 r/s configured; the server accepted 40 over the last second.
        for index in 0..<40 { limit.accepted(Ticket(startedAt: Double(index) * 0.025, inFlight: 1), clean: true, backlog: true, now: 1) }
        for index in 0..<100 { limit.started(now: Double(index) * 0.01) }
        limit.refused(Ticket(startedAt: 1, inFlight: 1), .init(), backlog: true, maxRetryAfter: 60, barePause: 0.5, random: 0, now: 1.001)
        // 90% of what the server accepted would be 36, but one refusal at most halves: 50.
        #expect(limit.rate == 50)
        #expect(limit.burst == 1)
        // Refusals of requests sent before that cut are the same congestion.
        limit.refused(Ticket(startedAt: 1.0005, inFlight: 1), .init(), backlog: true, maxRetryAfter: 60, barePause: 0.5, random: 0, now: 1.002)
        #expect(limit.rate == 50)
        limit.refused(Ticket(startedAt: 1.01, inFlight: 1), .init(), backlog: true, maxRetryAfter: 60, barePause: 0.5, random: 0, now: 1.02)
        #expect(limit.rate.map { abs($0 - 36) < 2 } == true)
        #expect(limit.rateDecreases == 2)
    }

    @Test func aBodySayingConcurrentCutsTheWindowNotTheRate() {
        var limit = AdaptiveLimit(concurrency: 64, rpm: 6_000, burst: nil, slowStart: false, adapts: true)
        limit.refused(Ticket(startedAt: 1, inFlight: 12), .init(concurrencyHint: true), backlog: true, maxRetryAfter: 60,
                      barePause: 0.5, random: 0, now: 1)
        #expect(limit.window == 11)
        #expect(limit.rate == 100)
        #expect(limit.cooldownUntil == 0)  // A concurrency refusal needs no pause: the window holds them back.
    }

    @Test func slowStartDoublesPerRoundTripUntilTheFirstRefusalOrTheCeiling() {
        var limit = AdaptiveLimit(concurrency: 64, rpm: nil, burst: nil, slowStart: true, adapts: true)
        #expect(limit.window == 4)
        for index in 0..<4 { limit.accepted(Ticket(startedAt: 0, inFlight: index + 1), clean: true, backlog: true, now: 0.1) }
        #expect(limit.window == 8)
        // A success that needed retries is not clean: it does not grow the window.
        limit.accepted(Ticket(startedAt: 0, inFlight: 5), clean: false, backlog: true, now: 0.1)
        #expect(limit.window == 8)
        for _ in 0..<100 { limit.accepted(Ticket(startedAt: 0.1, inFlight: 8), clean: true, backlog: true, now: 0.2) }
        #expect(limit.window == 64 && !limit.slowStart)
        // A learned limit ends slow start at once.
        var learned = AdaptiveLimit(concurrency: 64, rpm: nil, burst: nil, slowStart: true, adapts: true)
        learned.learn(rpm: 600)
        #expect(learned.window == 64 && learned.rate == 10)
    }

    @Test func aNonAdaptiveLimiterKeepsItsLimitsAndPausesForTheInitialDelay() {
        var limit = AdaptiveLimit(concurrency: 10, rpm: 600, burst: nil, slowStart: true, adapts: false)
        #expect(limit.window == 10)
        limit.refused(Ticket(startedAt: 0, inFlight: 10), .init(), backlog: true, maxRetryAfter: 60, barePause: 0.5, random: 0, now: 1)
        #expect(limit.rate == 10 && limit.window == 10)
        #expect(limit.cooldownUntil == 1.5)
    }

    @Test func theSchedulerNotesEachAdaptationForTheLogs() {
        var core = SchedulerCore()
        let settings = LimiterSettings(concurrency: 10, rpm: 600, adaptive: true)
        let grants = (try? core.enqueue(.init(id: 1, batch: 1, priority: .interactive, limiter: "p/m", tokens: .zero),
                                        settings: settings, now: 0).get()) ?? []
        #expect(grants.count == 1)
        _ = core.release(limiter: "p/m", ticket: grants[0].ticket, verdict: .refused(.init()), reservedTokens: .zero,
                         usedTokens: nil, now: 0.01)
        let changes = core.takeChanges()
        #expect(changes.count == 1)
        #expect(changes.first?.limiter == "p/m" && changes.first?.cause == .refused)
        #expect(changes.first?.rpm == 300)  // Nothing measured yet: halved.
        #expect(core.takeChanges().isEmpty)
        #expect(core.snapshot(now: 0.01)["p/m"]?.effectiveRPM == 300)
    }
}
