import Testing

@testable import FakeLLM

@Suite("Token buckets and the server limiter (pure, injected clock)")
struct RateLimiterTests {
    @Test func bucketStartsFullWithBurstCapacity() {
        let bucket = TokenBucket(limitPerMinute: 600, burstSeconds: 1, now: 0)
        #expect(bucket.capacity == 10)
        #expect(bucket.refillPerSecond == 10)
        #expect(bucket.remaining == 10)
        #expect(bucket.secondsUntilFull == 0)
    }

    @Test func bucketCapacityIsAtLeastOne() {
        #expect(TokenBucket(limitPerMinute: 6, burstSeconds: 1, now: 0).capacity == 1)
        #expect(TokenBucket(limitPerMinute: 60, burstSeconds: 30, now: 0).capacity == 30)
    }

    @Test func bucketRefillsContinuouslyAndCaps() {
        var bucket = TokenBucket(limitPerMinute: 60, burstSeconds: 2, now: 0)  // 1/s, capacity 2
        let fullAtStart = bucket.canTake(2, now: 0)
        #expect(fullAtStart)
        bucket.take(2)
        let fitsAtHalfSecond = bucket.canTake(1, now: 0.5)
        #expect(!fitsAtHalfSecond)
        #expect(bucket.secondsUntilAvailable(1) == 0.5)
        #expect(bucket.secondsUntilFull == 1.5)
        let fitsAtOneSecond = bucket.canTake(1, now: 1)
        #expect(fitsAtOneSecond)
        let fullLater = bucket.canTake(2, now: 100)
        #expect(fullLater)
        #expect(bucket.remaining == 2)
        #expect(bucket.secondsUntilAvailable(3) == .infinity)
    }

    @Test func requestLimitTurnsAwayWithoutCharging() {
        var limiter = RateLimiter(requestsPerMinute: 120, tokensPerMinute: nil, burstSeconds: 1, now: 0)  // capacity 2
        guard case .admitted(let first) = limiter.admit(tokenCost: 10, now: 0) else {
            Issue.record("first request refused")
            return
        }
        #expect(first.requests == RateLimiter.BucketState(limit: 120, remaining: 1, secondsUntilFull: 0.5))
        #expect(first.tokens == nil)
        guard case .admitted = limiter.admit(tokenCost: 10, now: 0) else {
            Issue.record("second request refused")
            return
        }
        let third = limiter.admit(tokenCost: 10, now: 0.1)
        guard case .limited(let kind, let limit, let used, let requested, let wait, let snapshot) = third else {
            Issue.record("third request admitted: \(third)")
            return
        }
        #expect(kind == .requests)
        #expect(limit == 120)
        #expect(used == 120)
        #expect(requested == 1)
        #expect(abs(wait - 0.4) < 1e-9)
        #expect(snapshot.requests?.remaining == 0)
        // Nothing was charged: at 0.5 s exactly one request fits again.
        guard case .admitted = limiter.admit(tokenCost: 10, now: 0.5) else {
            Issue.record("refill did not admit")
            return
        }
    }

    @Test func tokenLimitChargesEstimateAndReportsTokens() {
        var limiter = RateLimiter(requestsPerMinute: 600, tokensPerMinute: 600, burstSeconds: 1, now: 0)  // 10 tokens
        guard case .admitted(let snapshot) = limiter.admit(tokenCost: 6, now: 0) else {
            Issue.record("refused")
            return
        }
        #expect(snapshot.tokens?.remaining == 4)
        #expect(snapshot.requests?.remaining == 9)
        guard case .limited(let kind, _, _, let requested, let wait, let after) = limiter.admit(tokenCost: 6, now: 0)
        else {
            Issue.record("admitted over the token limit")
            return
        }
        #expect(kind == .tokens)
        #expect(requested == 6)
        #expect(abs(wait - 0.2) < 1e-9)
        #expect(after.requests?.remaining == 9)  // the request bucket was not charged either
    }

    @Test func estimateAboveCapacityIsTooLarge() {
        var limiter = RateLimiter(requestsPerMinute: nil, tokensPerMinute: 600, burstSeconds: 1, now: 0)
        let decision = limiter.admit(tokenCost: 11, now: 0)
        #expect(
            decision
                == .tooLarge(limit: 600, requested: 11, snapshot: .init(requests: nil, tokens: .init(limit: 600, remaining: 10, secondsUntilFull: 0))))
    }

    @Test func secondsUntilAdmissibleCoversBothBuckets() {
        var limiter = RateLimiter(requestsPerMinute: 60, tokensPerMinute: 60, burstSeconds: 10, now: 0)  // 10 each
        _ = limiter.admit(tokenCost: 10, now: 0)
        let waitForTwoTokens = limiter.secondsUntilAdmissible(tokenCost: 2, now: 0)
        #expect(waitForTwoTokens == 2)
        let waitForNoTokens = limiter.secondsUntilAdmissible(tokenCost: 0, now: 0)
        #expect(waitForNoTokens == 0)

    }

    // MARK: requestBurst: a per-second leaky bucket with a small burst

    @Test func explicitCapacityKeepsTheRefillRate() {
        var bucket = TokenBucket(limitPerMinute: 600, capacity: 2, now: 0)  // 10/s, holds 2
        #expect(bucket.capacity == 2)
        #expect(bucket.refillPerSecond == 10)
        #expect(bucket.remaining == 2)
        let two = bucket.canTake(2, now: 0)
        #expect(two)
        bucket.take(2)
        let third = bucket.canTake(1, now: 0)
        #expect(!third)
        #expect(abs(bucket.secondsUntilAvailable(1) - 0.1) < 1e-9)
        #expect(abs(bucket.secondsUntilFull - 0.2) < 1e-9)
        let afterRefill = bucket.canTake(1, now: 0.1)
        #expect(afterRefill)
        // However long the pause, it never holds more than the burst.
        _ = bucket.canTake(1, now: 1000)
        #expect(bucket.remaining == 2)
        #expect(bucket.secondsUntilAvailable(3) == .infinity)
    }

    @Test func explicitCapacityIsAtLeastOne() {
        #expect(TokenBucket(limitPerMinute: 600, capacity: 0, now: 0).capacity == 1)
        #expect(TokenBucket(limitPerMinute: 600, capacity: -5, now: 0).capacity == 1)
        #expect(TokenBucket(limitPerMinute: 600, capacity: .nan, now: 0).capacity == 1)
        var limiter = RateLimiter(requestsPerMinute: 600, tokensPerMinute: nil, burstSeconds: 1, requestBurst: 0, now: 0)
        #expect(limiter.requests?.capacity == 1)
        guard case .admitted = limiter.admit(tokenCost: 0, now: 0) else {
            Issue.record("first request refused")
            return
        }
        guard case .limited = limiter.admit(tokenCost: 0, now: 0) else {
            Issue.record("a burst of 0 admitted two back to back")
            return
        }
    }

    @Test func requestBurstSetsOnlyTheRequestBucket() {
        // burstSeconds 60 would give 600 requests; the burst of 2 wins. Tokens keep burstSeconds.
        let limiter = RateLimiter(requestsPerMinute: 600, tokensPerMinute: 600, burstSeconds: 60, requestBurst: 2, now: 0)
        #expect(limiter.requests?.capacity == 2)
        #expect(limiter.requests?.refillPerSecond == 10)
        #expect(limiter.tokens?.capacity == 600)
        let plain = RateLimiter(requestsPerMinute: 600, tokensPerMinute: nil, burstSeconds: 60, now: 0)
        #expect(plain.requests?.capacity == 600)
    }

    @Test func requestBurstAdmitsTwoThenOnePerTenthOfASecond() {
        var limiter = RateLimiter(requestsPerMinute: 600, tokensPerMinute: nil, burstSeconds: 1, requestBurst: 2, now: 0)
        var admittedAt: [Double] = []
        var refusedWaits: [Double] = []
        // 100 attempts per second for one second (virtual time, exact hundredths).
        for step in 0..<100 {
            let now = Double(step) / 100
            switch limiter.admit(tokenCost: 0, now: now) {
            case .admitted(let snapshot):
                admittedAt.append(now)
                #expect((0...1).contains(snapshot.requests?.remaining ?? -1))
            case .limited(let kind, let limit, _, let requested, let wait, _):
                #expect(kind == .requests)
                #expect(limit == 600)
                #expect(requested == 1)
                refusedWaits.append(wait)
            case .tooLarge:
                Issue.record("tooLarge without a token limit")
            }
        }
        // Two back to back, then the refill's 10 per second (the last one may fall on either side
        // of t = 0.99 by rounding); a bucket of burstSeconds' 10 would have admitted ~20.
        #expect(admittedAt.prefix(2) == [0, 0.01])
        #expect((11...12).contains(admittedAt.count))
        #expect(refusedWaits.allSatisfy { $0 > 0 && $0 <= 0.1 + 1e-9 })
        // Never more than the burst plus what accrued: over any window [a, b], admits <= 2 + 10 (b - a).
        for (i, start) in admittedAt.enumerated() {
            for (j, end) in admittedAt.enumerated() where j >= i {
                #expect(Double(j - i + 1) <= 2 + 10 * (end - start) + 1e-9)
            }
        }
    }

    // MARK: Retry headers of a failure

    @Test func retryAfterFollowsTheConfiguration() {
        let limited = FakeFailure.rateLimit(kind: .requests, limit: 6, used: 6, requested: 1, retryAfterSeconds: 4.2)
        let refused = FakeFailure.concurrencyLimit(limit: 2, hinted: true)
        var configuration = FakeLLMConfiguration()
        #expect(RequestPlanner.retryAfter(for: limited, configuration: configuration).retryAfterSeconds == 4.2)
        #expect(RequestPlanner.retryAfter(for: refused, configuration: configuration).retryAfterSeconds == nil)
        #expect(RequestPlanner.retryAfter(for: .status(429), configuration: configuration).retryAfterSeconds == nil)

        configuration.rateLimitHeaders = false
        let bare = RequestPlanner.retryAfter(for: limited, configuration: configuration)
        #expect(bare.retryAfterSeconds == nil)
        #expect(bare.failure == .rateLimit(kind: .requests, limit: 6, used: 6, requested: 1, retryAfterSeconds: nil))

        configuration.retryAfterSecondsOn429 = 30
        let fixed = RequestPlanner.retryAfter(for: limited, configuration: configuration)
        #expect(fixed.retryAfterSeconds == 30)
        #expect(fixed.failure == .rateLimit(kind: .requests, limit: 6, used: 6, requested: 1, retryAfterSeconds: 30))
        #expect(RequestPlanner.retryAfter(for: refused, configuration: configuration).retryAfterSeconds == 30)
        #expect(RequestPlanner.retryAfter(for: .status(429), configuration: configuration).retryAfterSeconds == 30)
        // No retry fixes these, so they never carry one.
        #expect(RequestPlanner.retryAfter(for: .quota, configuration: configuration).retryAfterSeconds == nil)
        #expect(
            RequestPlanner.retryAfter(for: .tooLarge(limit: 10, requested: 11), configuration: configuration)
                .retryAfterSeconds == nil)
        #expect(RequestPlanner.retryAfter(for: .status(503), configuration: configuration).retryAfterSeconds == nil)

        configuration.retryAfterSecondsOn429 = .nan
        #expect(RequestPlanner.retryAfter(for: refused, configuration: configuration).retryAfterSeconds == nil)
        configuration.retryAfterSecondsOn429 = -3
        #expect(RequestPlanner.retryAfter(for: refused, configuration: configuration).retryAfterSeconds == 0)
    }
}
