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

    @Test func aTokenRefusalCutsTheTokenBudgetNotTheRequestRateAndCleanAnswersRaiseItBack() {
        var core = SchedulerCore()
        let settings = LimiterSettings(concurrency: 10, rpm: 600, tpm: 6_000, adaptive: true)
        func add(_ id: UInt64, at now: Double) -> [SchedulerCore.Grant] {
            (try? core.enqueue(.init(id: id, batch: 1, priority: .interactive, limiter: "t", tokens: TokenCount(input: 100, output: 0)),
                               settings: settings, now: now).get()) ?? []
        }
        let first = add(1, at: 0)
        _ = core.release(limiter: "t", ticket: first[0].ticket, verdict: .refused(.init(tokensHint: true)),
                         reservedTokens: TokenCount(input: 100, output: 0), usedTokens: nil, now: 0.01)
        let cut = core.snapshot(now: 0.01)["t"]
        #expect(cut?.effectiveTPM.map { abs($0 - 4_200) < 1e-6 } == true)
        #expect(cut?.effectiveRPM == 600)
        #expect(core.takeChanges().first?.tpm.map { abs($0 - 4_200) < 1e-6 } == true)
        // A second refusal of a request sent before that cut is the same congestion.
        _ = core.release(limiter: "t", ticket: .init(startedAt: 0.005, inFlight: 1), verdict: .refused(.init(tokensHint: true)),
                         reservedTokens: .zero, usedTokens: nil, now: 0.02)
        #expect(core.snapshot(now: 0.02)["t"]?.effectiveTPM.map { abs($0 - 4_200) < 1e-6 } == true)
        // Clean answers with a backlog, after the hold-off, raise it back toward the budget.
        for id in 2...40 as ClosedRange<UInt64> { _ = add(id, at: 0.02) }
        var now = 1.0
        while now < 10 {
            _ = core.release(limiter: "t", ticket: .init(startedAt: now - 0.1, inFlight: 1), verdict: .accepted(clean: true),
                             reservedTokens: TokenCount(input: 100, output: 0), usedTokens: nil, now: now)
            now += 0.5
        }
        let raised = core.snapshot(now: now)["t"]?.effectiveTPM ?? 0
        #expect(raised > 5_500 && raised <= 6_000)
    }

    @Test func theEngineReadsWhatARefusalIsAboutFromItsKindAndBody() {
        let concurrent = ItemError(.rateLimited, "HTTP 429: Too many concurrent requests: at most 8 requests may be in flight",
                                   status: 429, retryable: true, providerCode: "concurrency_limit_exceeded")
        #expect(ItemRunner.verdict(for: concurrent) == .refused(.init(concurrencyHint: true)))
        let tokens = ItemError(.rateLimited, "HTTP 429: Rate limit reached for gpt-4o on tokens per min (TPM)", status: 429,
                               retryable: true, retryAfterSeconds: 2, providerCode: "rate_limit_exceeded")
        #expect(ItemRunner.verdict(for: tokens) == .refused(.init(retryAfter: 2, tokensHint: true)))
        let bare = ItemError(.rateLimited, "HTTP 429", status: 429, retryable: true)
        #expect(ItemRunner.verdict(for: bare) == .refused(.init()))
        #expect(ItemRunner.verdict(for: ItemError(.overloaded, "HTTP 529", status: 529, retryable: true)) == .refused(.init()))
        // Other failures say nothing about limits.
        #expect(ItemRunner.verdict(for: ItemError(.http, "HTTP 400", status: 400)) == .other)
        #expect(ItemRunner.verdict(for: ItemError(.connection, "refused", retryable: true)) == .other)
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
        // Answers that take long do not hold it back: the window at least doubles every 0.25 s.
        var slow = AdaptiveLimit(concurrency: 64, rpm: nil, burst: nil, slowStart: true, adapts: true)
        slow.started(now: 10)
        #expect(slow.window(at: 10) == 4 && slow.window(at: 10.5) == 16 && slow.window(at: 11) == 64)
        #expect(slow.nextWindowGrowth(now: 10.1) == 10.25)
        #expect(slow.nextWindowGrowth(now: 11) == nil)
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
