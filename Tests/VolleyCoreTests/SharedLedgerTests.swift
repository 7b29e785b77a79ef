import Testing
import VolleyRedis
@testable import VolleyCore

/// What a sidecar holds from Redis and owes it between round trips (`SharedLedger`), in
/// virtual time: leases, waiters, merged refunds and syncs, idle leases given back, cooldowns.
struct SharedLedgerTests {
    typealias Ledger = SharedLedger<Int>

    /// 60,000 a second, burst 20,000; tokens without end: a lease of 256.
    static let fast = SharedBuckets(requests: SharedBucket(perMinute: 3_600_000, burst: 20_000),
                                    tokens: SharedBucket(perMinute: 1e10, burst: 1e10))
    static let limiter = Ledger.Limiter(id: "abc", buckets: fast)
    static let tokens = TokenCount(input: 30, output: 16)

    /// The acquire of a round: its permits (count per run, tokens) and whom it answers.
    private func acquireOf(_ round: Ledger.Round) -> (permits: [PermitTokens], acquire: Ledger.Acquire)? {
        for (operation, acquire) in zip(round.operations, round.acquires) {
            if case .acquire(_, let permits, _, _, _) = operation, let acquire { return (permits, acquire) }
        }
        return nil
    }

    private func grant(_ starts: [Double], retryAfter: Double = 0, others: Bool = false) -> SharedGrant {
        SharedGrant(reply: [Int64(starts.count), Int64(retryAfter * 1_000_000), others ? 1 : 0] + starts.map { Int64($0 * 1_000_000) })!
    }

    @Test func aLeaseHoldsAbout20msOfTheRateAtMostHalfTheBurstAndNoneUnderTwo() {
        let tokens = Self.tokens
        #expect(SharedLease.size(Self.fast, tokens: tokens) == 256)
        // 1,000 a second, burst 20: 20 ms is 20 permits, half the burst 10.
        #expect(SharedLease.size(SharedBuckets(requests: SharedBucket(perMinute: 60_000, burst: 20)), tokens: tokens) == 10)
        // 50 a second (3,000 rpm), burst 1: no lease, every attempt asks for its own slot.
        #expect(SharedLease.size(SharedBuckets(requests: SharedBucket(perMinute: 3_000, burst: 1)), tokens: tokens) == 0)
        // Tokens bind: 600,000 a minute is 10,000 a second, 200 in 20 ms: 4 calls of 46.
        #expect(SharedLease.size(SharedBuckets(tokens: SharedBucket(perMinute: 600_000, burst: 600_000)), tokens: tokens) == 4)
    }

    @Test func anEmptyLeaseSendsTheAttemptToTheRoundTripWhichRefillsTheLeaseAfterTheWaiters() throws {
        var ledger = Ledger()
        let first = ledger.take(Self.limiter, tokens: Self.tokens, now: 0)
        #expect(first.wait == nil && first.wake, "nothing held: a refill is asked for")
        ledger.wait(Self.limiter, tokens: Self.tokens, 1)
        let second = ledger.take(Self.limiter, tokens: Self.tokens, now: 0)
        #expect(second.wake == false, "one refill at a time")
        ledger.wait(Self.limiter, tokens: Self.tokens, 2)
        #expect(ledger.isUrgent)
        let round = ledger.round(now: 0, prefix: "volley", caller: "me", reserveAhead: 2)
        let (permits, acquire) = try #require(acquireOf(round))
        #expect(acquire.waiters == [1, 2])
        #expect(permits.count == 2 + 256, "the waiters' permits, then the lease's")
        let answers = ledger.granted(grant(Array(repeating: 0, count: 2) + Array(repeating: 0.001, count: 256)), acquire, now: 0)
        #expect(answers.map(\.1) == [.granted, .granted])
        #expect(answers.map(\.0) == [1, 2])
        #expect(ledger.leases[Self.limiter]?.available == 256)
        // Now attempts take from the lease, no round trip: a permit reserved 1 ms ahead says so.
        let taken = ledger.take(Self.limiter, tokens: Self.tokens, now: 0.0005)
        #expect(taken.wait == 0.0005 && !taken.wake)
        for _ in 0..<126 { _ = ledger.take(Self.limiter, tokens: Self.tokens, now: 0.002) }
        #expect(ledger.leases[Self.limiter]?.available == 129 && !ledger.isUrgent)
        let low = ledger.take(Self.limiter, tokens: Self.tokens, now: 0.002)
        #expect(low.wake, "half empty (128 of 256): refill")
        #expect(ledger.isUrgent)
    }

    @Test func aPartGrantAnswersTheRestWithTheWaitAndLeasesNothing() throws {
        var ledger = Ledger()
        _ = ledger.take(Self.limiter, tokens: Self.tokens, now: 0)
        for waiter in 1...3 { ledger.wait(Self.limiter, tokens: Self.tokens, waiter) }
        let (_, acquire) = try #require(acquireOf(ledger.round(now: 0, prefix: "p", caller: "me", reserveAhead: 2)))
        let answers = ledger.granted(grant([0, 0.5], retryAfter: 3), acquire, now: 0)
        #expect(answers.map(\.1) == [.granted, .grantedAfter(0.5), .wait(3)])
        #expect(ledger.leases[Self.limiter]?.available == 0)
        // Another machine's 429: the waiters hear whose it was.
        ledger.wait(Self.limiter, tokens: Self.tokens, 4)
        let (_, again) = try #require(acquireOf(ledger.round(now: 1, prefix: "p", caller: "me", reserveAhead: 2)))
        #expect(ledger.granted(grant([], retryAfter: 5, others: true), again, now: 1).map(\.1) == [.othersCooldown(5)])
    }

    @Test func refundsAreSummedSyncsMergedAndBothFlushedWithin20ms() {
        var ledger = Ledger()
        let begins = ledger.refund(Self.limiter, requests: 0, tokens: TokenCount(input: 0, output: 10), now: 1)
        #expect(begins, "a flush window begins")
        let more = ledger.refund(Self.limiter, requests: 1, tokens: TokenCount(input: 5, output: 0), now: 1.005)
        #expect(!more)
        ledger.sync(Self.limiter, RateLimitState(requestsRemaining: 50, tokensRemaining: 1_000), now: 1.006)
        ledger.sync(Self.limiter, RateLimitState(requestsRemaining: 70, tokensRemaining: 900), now: 1.007)
        #expect(!ledger.isUrgent, "refunds and syncs wait for company")
        #expect(ledger.nextDeadline == 1 + Ledger.flushSeconds)
        let round = ledger.round(now: 1.02, prefix: "p", caller: "me", reserveAhead: 2)
        #expect(round.operations.count == 2)
        guard case .refund(_, let requests, let tokens, _) = round.operations[0] else {
            Issue.record("\(round.operations)")
            return
        }
        #expect(requests == 1 && tokens.total == 15 && tokens.input == 5 && tokens.output == 10)
        guard case .sync(let keys, let remaining, _) = round.operations[1] else {
            Issue.record("\(round.operations)")
            return
        }
        #expect(remaining.requests == 50 && remaining.tokens == 900, "the least remaining of each")
        #expect(keys == SharedLimiterKeys(prefix: "p", limiter: "abc"))
        #expect(ledger.nextDeadline == nil, "nothing owed after the round")
    }

    @Test func aPermitPastItsLifetimeGoesBackAndACooldownDropsTheLeaseAtOnce() throws {
        var ledger = Ledger()
        _ = ledger.take(Self.limiter, tokens: Self.tokens, now: 0)
        let (_, acquire) = try #require(acquireOf(ledger.round(now: 0, prefix: "p", caller: "me", reserveAhead: 2)))
        _ = ledger.granted(grant(Array(repeating: 0, count: 256)), acquire, now: 0)
        _ = ledger.take(Self.limiter, tokens: Self.tokens, now: 0.01)
        #expect(ledger.nextDeadline == SharedLease.lifetime, "the worker wakes when the permits granted at 0 expire")
        let idle = ledger.round(now: 0.2, prefix: "p", caller: "me", reserveAhead: 2)
        guard case .refund(_, let requests, let tokens, _) = idle.operations.first else {
            Issue.record("\(idle.operations)")
            return
        }
        #expect(requests == 255 && tokens.input == 255 * 30 && tokens.output == 255 * 16, "every permit not used")
        #expect(ledger.leases[Self.limiter]?.available == 0)
        // Full again, then a 429: the permits go back with the cooldown, in the same round trip.
        _ = ledger.take(Self.limiter, tokens: Self.tokens, now: 1)
        let (_, refill) = try #require(acquireOf(ledger.round(now: 1, prefix: "p", caller: "me", reserveAhead: 2)))
        _ = ledger.granted(grant(Array(repeating: 0, count: 256)), refill, now: 1)
        ledger.cooldown(Self.limiter, seconds: 2, now: 1.001)
        #expect(ledger.isUrgent)
        let round = ledger.round(now: 1.001, prefix: "p", caller: "me", reserveAhead: 2)
        #expect(round.operations.count == 2)
        if case .refund(_, let back, _, _) = round.operations[0] { #expect(back == 256) } else { Issue.record("\(round.operations)") }
        if case .cooldown(_, let seconds, _, let caller) = round.operations[1] { #expect(seconds == 2 && caller == "me") } else {
            Issue.record("\(round.operations)")
        }
    }

    @Test func aTakeNeverUsesAPermitPastItsLifetime() throws {
        var ledger = Ledger()
        _ = ledger.take(Self.limiter, tokens: Self.tokens, now: 0)
        let (_, acquire) = try #require(acquireOf(ledger.round(now: 0, prefix: "p", caller: "me", reserveAhead: 2)))
        _ = ledger.granted(grant(Array(repeating: 0, count: 256)), acquire, now: 0)
        // 60 ms later (another machine may have been refused meanwhile): ask Redis again.
        let late = ledger.take(Self.limiter, tokens: Self.tokens, now: 0.06)
        #expect(late.wait == nil && late.wake)
        let round = ledger.round(now: 0.06, prefix: "p", caller: "me", reserveAhead: 2)
        guard case .refund(_, let requests, _, _) = round.operations.first else {
            Issue.record("\(round.operations)")
            return
        }
        #expect(requests == 256)
    }

    @Test func aLargerAttemptDoesNotTakeASmallerPermitAndTheLeaseGrowsForIt() throws {
        var ledger = Ledger()
        _ = ledger.take(Self.limiter, tokens: Self.tokens, now: 0)
        let (_, acquire) = try #require(acquireOf(ledger.round(now: 0, prefix: "p", caller: "me", reserveAhead: 2)))
        _ = ledger.granted(grant(Array(repeating: 0, count: 256)), acquire, now: 0)
        let large = TokenCount(input: 500, output: 16)
        let missed = ledger.take(Self.limiter, tokens: large, now: 0.001)
        #expect(missed.wait == nil, "46 tokens a permit: not enough for 516")
        #expect(ledger.leases[Self.limiter]?.tokens == large, "refills now reserve 516")
        // A smaller one takes a permit and gives back what it does not need.
        let small = ledger.take(Self.limiter, tokens: TokenCount(input: 10, output: 16), now: 0.001)
        #expect(small.wait == 0)
        let round = ledger.round(now: 0.05, prefix: "p", caller: "me", reserveAhead: 2)
        guard case .refund(_, _, let tokens, _) = round.operations.first else {
            Issue.record("\(round.operations)")
            return
        }
        #expect(tokens.input == 20 && tokens.output == 0)
    }

    @Test func anAcquireTheScriptRefusedLetsTheLeaseAskAgain() throws {
        var ledger = Ledger()
        _ = ledger.take(Self.limiter, tokens: Self.tokens, now: 0)
        ledger.wait(Self.limiter, tokens: Self.tokens, 3)
        let (_, acquire) = try #require(acquireOf(ledger.round(now: 0, prefix: "p", caller: "me", reserveAhead: 2)))
        let refused = ledger.refused(acquire)
        #expect(refused == [3])
        let next = ledger.take(Self.limiter, tokens: Self.tokens, now: 0.001)
        #expect(next.wake, "not stuck waiting for a refill that will never come")
    }

    @Test func aFailedRoundTripAnswersItsWaitersAndDropsTheLeases() throws {
        var ledger = Ledger()
        _ = ledger.take(Self.limiter, tokens: Self.tokens, now: 0)
        let (_, acquire) = try #require(acquireOf(ledger.round(now: 0, prefix: "p", caller: "me", reserveAhead: 2)))
        _ = ledger.granted(grant(Array(repeating: 0, count: 256)), acquire, now: 0)
        for _ in 0..<200 { _ = ledger.take(Self.limiter, tokens: Self.tokens, now: 0.001) }
        ledger.wait(Self.limiter, tokens: Self.tokens, 7)
        let round = ledger.round(now: 0.002, prefix: "p", caller: "me", reserveAhead: 2)
        let failed = ledger.failed(round)
        #expect(failed == [7])
        #expect(ledger.leases.isEmpty)
    }
}
