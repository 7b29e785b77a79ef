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
}
