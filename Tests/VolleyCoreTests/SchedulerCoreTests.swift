import VolleyHTTP
import Testing
@testable import VolleyCore

/// Test conveniences over the pure scheduler core; times are plain seconds.
extension SchedulerCore {
    mutating func add(_ id: UInt64, batch: UInt64 = 1, connection: UInt64 = 0, priority: Priority = .interactive,
                      limiter: String = "l", tokens: Int = 0, _ settings: LimiterSettings, at now: Double = 0,
                      deadline: Double? = nil) -> [UInt64] {
        let waiter = Waiter(id: id, batch: batch, connection: connection, priority: priority, limiter: limiter,
                            tokens: TokenCount(input: tokens, output: 0), deadline: deadline)
        return ((try? enqueue(waiter, settings: settings, now: now).get()) ?? []).map(\.id)
    }

    mutating func done(_ limiter: String = "l", reserved: Int = 0, used: Int? = nil, refund: Bool = false, at now: Double = 0) -> [UInt64] {
        release(limiter: limiter, reservedTokens: TokenCount(input: reserved, output: 0),
                usedTokens: used.map { TokenCount(input: $0, output: 0) }, refund: refund, now: now)
    }

    /// An attempt ended: accepted cleanly, or refused (a 429 without retry-after) when `refund`.
    mutating func release(limiter: String, reservedTokens: TokenCount, usedTokens: TokenCount?, refund: Bool, now: Double) -> [UInt64] {
        let verdict: Verdict = refund ? .refused(AdaptiveLimit.Refusal()) : .accepted(clean: true)
        return release(limiter: limiter, ticket: Ticket(startedAt: now, inFlight: 1), verdict: verdict,
                       reservedTokens: reservedTokens, usedTokens: usedTokens, now: now).map(\.id)
    }

    /// The ids `poll` granted.
    mutating func pollIDs(now: Double) -> [UInt64] { poll(now: now).granted.map(\.id) }
}

struct SchedulerCoreTests {
    let one = LimiterSettings(concurrency: 1)

    @Test func grantsUpToConcurrencyThenOnRelease() {
        var core = SchedulerCore()
        var granted: [UInt64] = []
        for id in 1...4 as ClosedRange<UInt64> { granted += core.add(id, LimiterSettings(concurrency: 2)) }
        #expect(granted == [1, 2])
        let next = core.done()
        #expect(next == [3])
    }

    @Test func smallBatchGetsItsFairShareWhileAHugeOneIsQueued() {
        var core = SchedulerCore()
        var granted: [UInt64] = []
        for id in 1...1000 as ClosedRange<UInt64> { granted += core.add(id, batch: 1, one) }
        for id in 5001...5003 as ClosedRange<UInt64> { granted += core.add(id, batch: 2, one) }
        #expect(granted == [1])
        var order: [UInt64] = []
        for _ in 0..<6 { order += core.done() }
        // Round-robin: the small batch is served every other slot, not after 999 items.
        #expect(order == [2, 5001, 3, 5002, 4, 5003])
    }

    @Test func interactiveIsServedBeforeBackground() {
        var core = SchedulerCore()
        _ = core.add(1, batch: 1, priority: .background, one)
        _ = core.add(2, batch: 1, priority: .background, one)
        _ = core.add(3, batch: 2, priority: .interactive, one)
        let first = core.done()
        let second = core.done()
        #expect(first == [3] && second == [2])
    }

    @Test func cancelledWaiterIsSkippedAndLimitersAreIndependent() {
        var core = SchedulerCore()
        _ = core.add(1, one)
        _ = core.add(2, one)
        _ = core.add(3, one)
        let other = core.add(4, limiter: "b", one)
        #expect(other == [4])
        let cancelled = core.cancel(2)
        let granted = core.cancel(1)
        #expect(cancelled && !granted)
        let next = core.done()
        #expect(next == [3])
        let snapshot = core.snapshot(now: 0)
        #expect(snapshot["l"]?.inFlight == 1 && snapshot["l"]?.queued == 0)
    }

    @Test func rpmSpacesRequestsAfterASmallBurst() {
        // 600 rpm: one every 0.1 s, a configured burst of 5.
        var core = SchedulerCore()
        let settings = LimiterSettings(concurrency: 1000, rpm: 600, burst: 5)
        var granted: [UInt64] = []
        for id in 1...20 as ClosedRange<UInt64> { granted += core.add(id, settings) }
        #expect(granted == [1, 2, 3, 4, 5])
        // Nothing more before the next emission time.
        let early = core.pollIDs(now: 0.05)
        #expect(early.isEmpty)
        #expect(abs((core.nextWake(now: 0.05) ?? 0) - 0.1) < 1e-9)
        let at1 = core.pollIDs(now: 0.1)
        #expect(at1 == [6])
        // One second later: exactly ten more (0.2 ... 1.1), never a minute's worth.
        let at2 = core.pollIDs(now: 1.1)
        #expect(at2.count == 5)  // Capped by the burst after a pause, not 10.
        let at3 = core.pollIDs(now: 1.6)
        #expect(at3.count == 5)
    }

    @Test func tpmReservesEstimatesAndReconcilesWithUsage() {
        // 6,000 tpm: 100 tokens per second, starting full.
        var core = SchedulerCore()
        let settings = LimiterSettings(concurrency: 100, tpm: 6_000)
        let first = core.add(1, tokens: 4_000, settings)
        let second = core.add(2, tokens: 4_000, settings)
        #expect(first == [1] && second.isEmpty)  // 2,000 left: the second waits.
        // The first used only 1,000: 3,000 come back, so 5,000 are there and the second fits.
        let reconciled = core.done(reserved: 4_000, used: 1_000, at: 0)
        #expect(reconciled == [2])
        #expect(core.snapshot(now: 0)["l"]?.tokensAvailable == 1_000)
        // A refused (429) attempt gives its whole reservation back.
        _ = core.done(reserved: 4_000, refund: true, at: 0)
        #expect(core.snapshot(now: 0)["l"]?.tokensAvailable == 5_000)
        // Refill: 100 tokens per second, capped at the minute's budget.
        #expect(core.snapshot(now: 5)["l"]?.tokensAvailable == 5_500)
        #expect(core.snapshot(now: 600)["l"]?.tokensAvailable == 6_000)
    }

    @Test func tpmWaitsForRefillAndNamesTheWakeTime() {
        var core = SchedulerCore()
        let settings = LimiterSettings(concurrency: 100, tpm: 6_000)
        _ = core.add(1, tokens: 6_000, settings)
        let waiting = core.add(2, tokens: 300, settings)
        #expect(waiting.isEmpty)
        #expect(abs((core.nextWake(now: 0) ?? 0) - 3) < 1e-9)  // 300 tokens at 100 per second.
        let late = core.pollIDs(now: 3)
        #expect(late == [2])
    }

    @Test func requestLargerThanTheWholeBudgetIsTooLargeAtOnce() {
        var core = SchedulerCore()
        let result = core.enqueue(.init(id: 1, batch: 1, priority: .interactive, limiter: "l", tokens: TokenCount(input: 6_001, output: 0)),
                                  settings: LimiterSettings(concurrency: 1, tpm: 6_000), now: 0)
        #expect(result == .failure(SchedulerCore.TooLarge(tokens: 6_001, tpm: 6_000)))
        #expect(core.snapshot(now: 0)["l"]?.queued == 0)
    }

    @Test func cooldownPausesTheWholeLimiter() {
        var core = SchedulerCore()
        let settings = LimiterSettings(concurrency: 10)
        _ = core.add(1, settings)
        _ = core.add(3, settings)
        // A 429 with retry-after 2 s (no jitter drawn): the whole limiter pauses until then.
        _ = core.release(limiter: "l", ticket: .init(startedAt: 0, inFlight: 1), verdict: .refused(.init(retryAfter: 2)),
                         reservedTokens: .zero, usedTokens: nil, random: 0, now: 0)
        let during = core.add(2, settings, at: 1)
        #expect(during.isEmpty)
        #expect(abs((core.nextWake(now: 1) ?? 0) - 2) < 1e-9)
        let after = core.pollIDs(now: 2)
        #expect(after == [2])
    }

    @Test func waitersExpireAtTheirDeadlineUnlessTheirTurnComesFirstOrJustThen() {
        // One a second (burst 1): the first starts at once, the second's turn is at 1 s, the
        // third's at 2 s. Deadlines: the second 1 s (its turn comes just then: granted), the
        // third 1.5 s (expired before its turn), the fourth none.
        var core = SchedulerCore()
        let settings = LimiterSettings(concurrency: 10, rpm: 60)
        #expect(core.add(1, settings, deadline: 5) == [1])
        #expect(core.add(2, settings, deadline: 1).isEmpty)
        #expect(core.add(3, settings, deadline: 1.5).isEmpty)
        #expect(core.add(4, settings).isEmpty)
        #expect(core.nextWake(now: 0) == 1)
        let atOne = core.poll(now: 1)
        #expect(atOne.granted.map(\.id) == [2] && atOne.expired.isEmpty)
        #expect(atOne.granted.first?.ticket == SchedulerCore.Ticket(startedAt: 1, inFlight: 2))
        // The third's deadline comes before anyone's turn: that is the next wake.
        #expect(core.nextWake(now: 1) == 1.5)
        let atDeadline = core.poll(now: 1.5)
        #expect(atDeadline.expired == [3] && atDeadline.granted.isEmpty)
        // The fourth takes the next turn; an expired waiter holds nobody up.
        #expect(core.pollIDs(now: 2) == [4])
        #expect(core.snapshot(now: 2)["l"]?.queued == 0)
    }

    @Test func whilePausedNothingIsGrantedAndResumingGrantsWhatCanStart() {
        var core = SchedulerCore()
        let settings = LimiterSettings(concurrency: 10)
        _ = core.setPaused(true, connection: 0, now: 0)
        #expect(core.add(1, settings).isEmpty)
        #expect(core.add(2, settings, deadline: 3).isEmpty)
        // Paused: only the deadline wakes anyone.
        #expect(core.nextWake(now: 0) == 3)
        #expect(core.setPaused(false, connection: 0, now: 1).map(\.id) == [1, 2])
    }

    @Test func connectionsTakeTurnsBeforeTheirBatchesDo() {
        // One permit at a time. Host 1 has two batches queued (many items each), host 2 one
        // item: host 2 waits behind at most one of host 1's items, not behind its batches.
        var core = SchedulerCore()
        let settings = LimiterSettings(concurrency: 1)
        #expect(core.add(1, batch: 1, connection: 1, settings) == [1])
        for id: UInt64 in 2...5 { _ = core.add(id, batch: 1, connection: 1, settings) }
        for id: UInt64 in 6...9 { _ = core.add(id, batch: 2, connection: 1, settings) }
        _ = core.add(10, batch: 3, connection: 2, settings)
        var order: [UInt64] = []
        for _ in 0..<9 { order += core.done() }
        // Turns: host 1 (batch 1), host 2, host 1 (batch 2), host 1 (batch 1), ...
        #expect(order == [2, 10, 6, 3, 7, 4, 8, 5, 9])
    }

    @Test func aPausedConnectionHoldsUpNobodyElse() {
        var core = SchedulerCore()
        let settings = LimiterSettings(concurrency: 1)
        #expect(core.add(1, connection: 1, settings) == [1])
        _ = core.add(2, batch: 2, connection: 1, settings)
        _ = core.add(3, batch: 3, connection: 2, settings)
        _ = core.add(4, batch: 3, connection: 2, settings)
        // Host 1 stops reading: its waiter is passed over, host 2's are granted in turn.
        _ = core.setPaused(true, connection: 1, now: 0)
        #expect(core.done() == [3])
        // A newcomer of the paused host is not started at once either.
        #expect(core.done() == [4])
        #expect(core.add(5, batch: 4, connection: 1, settings).isEmpty)
        #expect(core.done().isEmpty)
        #expect(core.nextWake(now: 0) == nil)
        // Resumed: its waiters go, in their order.
        #expect(core.setPaused(false, connection: 1, now: 0) == [SchedulerCore.Grant(id: 2, ticket: .init(startedAt: 0, inFlight: 1))])
        #expect(core.done() == [5])
    }

    @Test func headersOnlyEverMakeTheLimiterSlower() {
        var core = SchedulerCore()
        let settings = LimiterSettings(concurrency: 100, rpm: 6_000, tpm: 60_000)
        _ = core.add(1, tokens: 10, settings)
        core.sync(limiter: "l", RateLimitState(requestsRemaining: 0, requestsResetSeconds: 1.5, tokensRemaining: 100), now: 0)
        let snapshot = core.snapshot(now: 0)["l"]
        #expect(snapshot?.requestsAvailable == 0)
        #expect(snapshot?.tokensAvailable == 100)
        // Remaining far above our own view changes nothing.
        var fresh = SchedulerCore()
        _ = fresh.add(1, tokens: 10, settings)
        fresh.sync(limiter: "l", RateLimitState(requestsRemaining: 1_000_000, tokensRemaining: 1_000_000), now: 0)
        #expect(fresh.snapshot(now: 0)["l"]?.tokensAvailable == 59_990)
    }
}

struct LearnedLimitTests {
    @Test func anUnconfiguredLimiterLearnsRPMAndTPMFromHeaders() {
        var core = SchedulerCore()
        let settings = LimiterSettings(concurrency: 1_000)
        var granted: [UInt64] = []
        for id in 1...10 as ClosedRange<UInt64> { granted += core.add(id, tokens: 10, settings) }
        #expect(granted.count == 10)  // Nothing to pace by yet.
        for _ in 0..<10 { _ = core.done(reserved: 10, used: 10) }
        var learned = RateLimitState()
        learned.requestsLimit = 600
        learned.tokensLimit = 6_000
        _ = core.takeChanges()
        core.sync(limiter: "l", learned, now: 0)
        let snapshot = core.snapshot(now: 0)["l"]
        #expect(snapshot?.learnedRPM == 600 && snapshot?.learnedTPM == 6_000)
        // Learning is a change the logs hear about, once.
        let changes = core.takeChanges()
        #expect(changes.map(\.cause) == [.learned] && changes.first?.limiter == "l")
        #expect(changes.first?.rpm.map { Int($0.rounded()) } == 600 && changes.first?.tpm.map { Int($0.rounded()) } == 6_000)
        core.sync(limiter: "l", learned, now: 0.01)
        #expect(core.takeChanges().isEmpty, "the same headers again teach nothing new")
        // Paced from now on: the default burst of one (20 ms of 600 rpm rounds to 1), then one per 0.1 s.
        var paced: [UInt64] = []
        for id in 11...30 as ClosedRange<UInt64> { paced += core.add(id, settings) }
        #expect(paced.count == 1)
        // A configured limit is never replaced by a learned one.
        var configured = SchedulerCore()
        _ = configured.add(1, LimiterSettings(concurrency: 10, rpm: 60))
        configured.sync(limiter: "l", learned, now: 0)
        #expect(configured.snapshot(now: 0)["l"]?.learnedRPM == nil)
    }
}

struct SeparateTokenBudgetTests {
    @Test func inputAndOutputBudgetsAreEachEnforcedAndReconciled() {
        // Anthropic-style: 6,000 input and 600 output tokens per minute.
        var core = SchedulerCore()
        let settings = LimiterSettings(concurrency: 100, itpm: 6_000, otpm: 600)
        func add(_ id: UInt64, input: Int, output: Int) -> [UInt64] {
            ((try? core.enqueue(.init(id: id, batch: 1, priority: .interactive, limiter: "a", tokens: TokenCount(input: input, output: output)),
                                settings: settings, now: 0).get()) ?? []).map(\.id)
        }
        #expect(add(1, input: 100, output: 500) == [1])
        // Plenty of input budget left, but only 100 output tokens: the next 500-token reply waits.
        #expect(add(2, input: 100, output: 500).isEmpty)
        // The first reply used 50 output tokens: 450 come back and the second fits.
        let granted = core.release(limiter: "a", reservedTokens: TokenCount(input: 100, output: 500),
                                   usedTokens: TokenCount(input: 100, output: 50), refund: false, now: 0)
        #expect(granted == [2])
        // An output reservation above the whole OTPM can never fit.
        let tooLarge = core.enqueue(.init(id: 3, batch: 1, priority: .interactive, limiter: "a", tokens: TokenCount(input: 1, output: 601)),
                                    settings: settings, now: 0)
        #expect(tooLarge == .failure(SchedulerCore.TooLarge(tokens: 601, tpm: 600)))
    }
}

struct RateBucketTests {
    @Test func serverSayingNothingIsLeftPausesUntilItsResetEvenWhenWeHaveNoBurstLeft() {
        var rate = RequestRate(rpm: 6_000, burst: 50, now: 0)  // one per 10 ms
        for _ in 0..<50 { rate.take(now: 0) }
        #expect(rate.available(now: 0) == 0)
        rate.sync(remaining: 0, resetSeconds: 1, now: 0)
        #expect(rate.earliest(now: 0) >= 1)
        // A remaining count above ours changes nothing; one below it trims our burst.
        var fresh = RequestRate(rpm: 6_000, burst: 50, now: 0)
        fresh.sync(remaining: 500, resetSeconds: 1, now: 0)
        #expect(fresh.available(now: 0) == 50)
        fresh.sync(remaining: 3, resetSeconds: 1, now: 0)
        #expect(fresh.available(now: 0) == 3)
    }

    @Test func gcraNeverExceedsTheRateOverAnyWindow() {
        var rate = RequestRate(rpm: 1_200, burst: 10, now: 0)  // 20 per second
        var times: [Double] = []
        var now = 0.0
        while times.count < 200 {
            now = rate.earliest(now: now)
            rate.take(now: now)
            times.append(now)
        }
        // In any one-second window: at most 20 per second plus the burst.
        for (index, start) in times.enumerated() {
            let inWindow = times[index...].prefix { $0 < start + 1 }.count
            #expect(inWindow <= 20 + 10)
        }
        // Long-run rate: 200 requests take (200 - burst) / 20 seconds.
        #expect(abs(times.last! - Double(200 - 10) / 20) < 0.001)
    }
}

struct RateLimitHeaderTests {
    @Test func goDurations() {
        #expect(GoDuration.seconds("6m0s") == 360)
        #expect(GoDuration.seconds("1s") == 1)
        #expect(GoDuration.seconds("12ms") == 0.012)
        #expect(GoDuration.seconds("1m30.5s") == 90.5)
        #expect(GoDuration.seconds("1h2m3s") == 3723)
        #expect(GoDuration.seconds("250us") == 0.00025)
        #expect(GoDuration.seconds("0s") == 0)
        #expect(GoDuration.seconds("0") == 0)
        #expect(GoDuration.seconds("") == nil)
        #expect(GoDuration.seconds("5 minutes") == nil)
        #expect(GoDuration.seconds("s") == nil)
    }

    @Test func rfc3339() {
        #expect(RFC3339.parse("1970-01-01T00:00:00Z") == 0)
        #expect(RFC3339.parse("2024-05-01T12:00:30Z") == 1_714_564_830)
        #expect(RFC3339.parse("2024-05-01T14:00:30+02:00") == 1_714_564_830)
        #expect(RFC3339.parse("2024-05-01T12:00:30.25Z") == 1_714_564_830.25)
        #expect(RFC3339.parse("2024-05-01 12:00:30Z") == 1_714_564_830)
        #expect(RFC3339.parse("2024-13-01T12:00:30Z") == nil)
        #expect(RFC3339.parse("2024-05-01T12:00:30") == nil)
        #expect(RFC3339.parse("yesterday") == nil)
    }

    @Test func openAIAndAnthropicHeaders() {
        let openai = RateLimitHeaders.parse([
            "x-ratelimit-remaining-requests": "499", "x-ratelimit-reset-requests": "120ms",
            "x-ratelimit-remaining-tokens": "149984", "x-ratelimit-reset-tokens": "6m0s",
        ], nowUnixSeconds: 0)
        #expect(openai == RateLimitState(requestsRemaining: 499, requestsResetSeconds: 0.12, tokensRemaining: 149_984, tokensResetSeconds: 360))
        let anthropic = RateLimitHeaders.parse([
            "anthropic-ratelimit-requests-remaining": "49", "anthropic-ratelimit-requests-reset": "1970-01-01T00:00:10Z",
            "anthropic-ratelimit-input-tokens-remaining": "30000", "anthropic-ratelimit-input-tokens-reset": "1970-01-01T00:00:20Z",
            "anthropic-ratelimit-output-tokens-remaining": "8000", "anthropic-ratelimit-output-tokens-reset": "1970-01-01T00:00:30Z",
        ], nowUnixSeconds: 5)
        #expect(anthropic == RateLimitState(requestsRemaining: 49, requestsResetSeconds: 5,
                                            inputTokensRemaining: 30_000, outputTokensRemaining: 8_000))
    }

    @Test func namesMatchInAnyCaseAndTheFirstOfARepeatedHeaderWins() {
        var headers: HTTPHeaders = ["Content-Type": "application/json", "X-RateLimit-Limit-Requests": "500",
                                    "x-ratelimit-remaining-requests": "7"]
        headers.add(name: "x-ratelimit-remaining-requests", value: "3")
        var expected = RateLimitState(requestsRemaining: 7)
        expected.requestsLimit = 500
        #expect(RateLimitHeaders.parse(headers, nowUnixSeconds: 0) == expected)
        #expect(RateLimitHeaders.parse(["content-type": "text/plain"], nowUnixSeconds: 0).isEmpty)
    }
}

struct ReconciliationPolicyTests {
    @Test func withoutRefundsOnlyAnUnderEstimateIsCorrected() {
        var core = SchedulerCore()
        let settings = LimiterSettings(concurrency: 10, tpm: 6_000, refundsUnusedTokens: false)
        func add(_ id: UInt64) {
            _ = try? core.enqueue(.init(id: id, batch: 1, priority: .interactive, limiter: "o", tokens: TokenCount(input: 100, output: 500)),
                                  settings: settings, now: 0).get()
        }
        add(1)
        // Used less than reserved: an OpenAI-style server keeps what it charged, so do we.
        _ = core.release(limiter: "o", reservedTokens: TokenCount(input: 100, output: 500),
                         usedTokens: TokenCount(input: 100, output: 20), refund: false, now: 0)
        #expect(core.snapshot(now: 0)["o"]?.tokensAvailable == 5_400)
        add(2)
        // Used more than reserved: the difference is taken.
        _ = core.release(limiter: "o", reservedTokens: TokenCount(input: 100, output: 500),
                         usedTokens: TokenCount(input: 300, output: 500), refund: false, now: 0)
        #expect(core.snapshot(now: 0)["o"]?.tokensAvailable == 4_600)
    }
}
