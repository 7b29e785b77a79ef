import Foundation
import Synchronization
import Testing
import VolleyRedis
import VolleySystem
import VolleyTestSupport

/// The shared limiters' script against a real redis-server (issue 22): atomic under racing
/// clients, refunds, cooldowns, header syncs and expiry, on the server's clock.
@Suite(.serialized, .tags(.timeSensitive)) struct SharedLimitScriptTests {
    private func client(_ redis: RedisProcess) throws -> SharedLimitClient {
        SharedLimitClient(try RedisConnection(RedisURL(redis.url)))
    }

    private func keys(_ name: String = #function) -> SharedLimiterKeys {
        SharedLimiterKeys(prefix: "volley-test", limiter: name.filter { $0.isLetter })
    }

    @Test func racingAcquirersNeverTakeMoreThanTheBucketHolds() async throws {
        let redis = try RedisProcess()
        // 20 permits now, the next one a minute away: 100 connections race for them.
        let buckets = SharedBuckets(requests: SharedBucket(perMinute: 1, burst: 20))
        let keys = keys()
        let url = try RedisURL(redis.url)
        let granted = Atomic<Int>(0)
        let failures = Locked<[String]>([])
        let start = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for _ in 0..<100 {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                do {
                    let client = SharedLimitClient(try RedisConnection(url, timeoutSeconds: 5))
                    start.wait()
                    let got = try client.acquire(keys, buckets: buckets)
                    granted.add(got.granted, ordering: .relaxed)
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        for _ in 0..<100 { start.signal() }
        await TestTools.onThread { done.wait() }
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(granted.load(ordering: .relaxed) == 20)
        let next = try client(redis).acquire(keys, buckets: buckets)
        #expect(next.granted == 0)
        #expect(next.waitSeconds > 50 && next.waitSeconds <= 60, "the 21st is a whole interval away")
    }

    @Test func severalPermitsInOneRoundTripStayWithinTheLimit() throws {
        let redis = try RedisProcess()
        let client = try client(redis)
        let buckets = SharedBuckets(requests: SharedBucket(perMinute: 6, burst: 5))
        let keys = keys()
        #expect(try client.acquire(keys, requests: 3, buckets: buckets).granted == 3)
        #expect(try client.acquire(keys, requests: 3, buckets: buckets).granted == 2, "only what is left")
        let none = try client.acquire(keys, requests: 3, buckets: buckets)
        #expect(none.granted == 0 && none.waitSeconds > 9 && none.waitSeconds <= 10)
    }

    @Test func aSlotWithinTheHorizonIsReservedInOrderAndOneBeyondItIsNot() throws {
        let redis = try RedisProcess()
        let client = try client(redis)
        // One a second, one at a time.
        let buckets = SharedBuckets(requests: SharedBucket(perMinute: 60, burst: 1))
        let keys = keys()
        let first = try client.acquire(keys, buckets: buckets, reserveAhead: 5)
        #expect(first.granted == 1 && first.waitSeconds == 0, "the first fits now")
        let second = try client.acquire(keys, buckets: buckets, reserveAhead: 5)
        #expect(second.granted == 1 && second.waitSeconds > 0.9 && second.waitSeconds <= 1, "reserved: start in a second")
        let third = try client.acquire(keys, buckets: buckets, reserveAhead: 5)
        #expect(third.granted == 1 && third.waitSeconds > 1.9 && third.waitSeconds <= 2, "the next slot, not the same one")
        let beyond = try client.acquire(keys, buckets: buckets, reserveAhead: 2.5)
        #expect(beyond.granted == 0 && beyond.waitSeconds > 2.9, "past the horizon: nothing taken, ask again later")
        // A reservation given back frees its slot.
        try client.refund(keys, requests: 1, tokens: (0, 0, 0), buckets: buckets)
        let refilled = try client.acquire(keys, buckets: buckets, reserveAhead: 5)
        #expect(refilled.granted == 1 && refilled.waitSeconds <= 2)
    }

    @Test func permitsOfOneCallAreGrantedInOrderAndNoneOvertakes() throws {
        let redis = try RedisProcess()
        let client = try client(redis)
        // 600 tokens a minute, all of them in the bucket; requests are plenty.
        let buckets = SharedBuckets(requests: SharedBucket(perMinute: 6_000, burst: 100), tokens: SharedBucket(perMinute: 600, burst: 600))
        let keys = keys()
        func tokens(_ count: Int) -> PermitTokens { PermitTokens(total: count, input: count, output: 0) }
        let grant = try client.acquire(keys, permits: [tokens(200), tokens(300), tokens(200), tokens(50)], buckets: buckets)
        // 200 + 300 fit; the third (200 of the 100 left) does not, and the fourth (50) does
        // not overtake it.
        #expect(grant.starts == [0, 0])
        #expect(grant.retryAfter > 9.9 && grant.retryAfter <= 10, "100 tokens more at 10 a second: \(grant.retryAfter)")
        #expect(!grant.othersCooldown)
        #expect(try client.acquire(keys, permits: [tokens(100)], buckets: buckets).granted == 1, "the 100 left are still there")
        // Within a horizon the rest are reserved in order, each at its own slot.
        let ahead = SharedBuckets(requests: SharedBucket(perMinute: 60, burst: 1))
        let reserved = try client.acquire(self.keys("ahead"), permits: [.none, .none, .none, .none], buckets: ahead, reserveAhead: 2.5)
        #expect(reserved.granted == 3)
        #expect(reserved.starts[0] == 0 && reserved.starts[1] > 0.9 && reserved.starts[1] <= 1 && reserved.starts[2] > 1.9 && reserved.starts[2] <= 2)
        #expect(reserved.retryAfter > 2.9 && reserved.retryAfter <= 3, "the fourth is past the horizon")
    }

    @Test func anAcquireTellsAnotherCallersCooldownFromItsOwn() throws {
        let redis = try RedisProcess()
        let first = try client(redis), second = try client(redis)
        let buckets = SharedBuckets(requests: SharedBucket(perMinute: 60_000, burst: 100))
        let keys = keys()
        try first.cooldown(keys, seconds: 5, buckets: buckets, caller: "machine-a")
        let own = try first.acquire(keys, permits: [.none], buckets: buckets, caller: "machine-a")
        #expect(own.granted == 0 && !own.othersCooldown && own.retryAfter > 4.9, "its own 429: already counted")
        let other = try second.acquire(keys, permits: [.none, .none], buckets: buckets, caller: "machine-b")
        #expect(other.granted == 0 && other.othersCooldown && other.retryAfter > 4.9 && other.retryAfter <= 5, "another machine's 429")
        // B extends it: now it is A that sees another's.
        try second.cooldown(keys, seconds: 8, buckets: buckets, caller: "machine-b")
        #expect(try first.acquire(keys, permits: [.none], buckets: buckets, caller: "machine-a").othersCooldown)
    }

    @Test func tokensAreReservedThenReconciledClampedToNow() throws {
        let redis = try RedisProcess()
        let client = try client(redis)
        // 600 tokens a minute, all of them in the bucket.
        let buckets = SharedBuckets(tokens: SharedBucket(perMinute: 600, burst: 600))
        let keys = keys()
        #expect(try client.acquire(keys, tokens: (500, 0, 0), buckets: buckets).granted == 1)
        #expect(try client.acquire(keys, tokens: (500, 0, 0), buckets: buckets).granted == 0)
        // The call used 100 of its 500: 400 come back, and the next 500 fit.
        try client.refund(keys, tokens: (400, 0, 0), buckets: buckets)
        #expect(try client.acquire(keys, tokens: (500, 0, 0), buckets: buckets).granted == 1)
        // A refund larger than what was taken fills the bucket, never past full.
        try client.refund(keys, tokens: (100_000, 0, 0), buckets: buckets)
        #expect(try client.acquire(keys, tokens: (600, 0, 0), buckets: buckets).granted == 1)
        #expect(try client.acquire(keys, tokens: (1, 0, 0), buckets: buckets).granted == 0)
        // Used more than reserved: charged on top (a negative refund).
        try client.refund(keys, tokens: (100_000, 0, 0), buckets: buckets)
        try client.refund(keys, tokens: (-550, 0, 0), buckets: buckets)
        #expect(try client.acquire(keys, tokens: (100, 0, 0), buckets: buckets).granted == 0)
        #expect(try client.acquire(keys, tokens: (50, 0, 0), buckets: buckets).granted == 1)
    }

    @Test func inputAndOutputBudgetsMustAllFit() throws {
        let redis = try RedisProcess()
        let client = try client(redis)
        let buckets = SharedBuckets(requests: SharedBucket(perMinute: 1000, burst: 100),
                                    inputTokens: SharedBucket(perMinute: 1000, burst: 1000),
                                    outputTokens: SharedBucket(perMinute: 100, burst: 100))
        let keys = keys()
        #expect(try client.acquire(keys, tokens: (0, 900, 50), buckets: buckets).granted == 1)
        // Input would fit, output would not: nothing is taken from any bucket.
        #expect(try client.acquire(keys, tokens: (0, 50, 60), buckets: buckets).granted == 0)
        #expect(try client.acquire(keys, tokens: (0, 100, 50), buckets: buckets).granted == 1)
    }

    @Test func aCooldownIsEveryonesAndAnEarlierEndNeverShortensIt() throws {
        let redis = try RedisProcess()
        let first = try client(redis), second = try client(redis)
        let buckets = SharedBuckets(requests: SharedBucket(perMinute: 60_000, burst: 100))
        let keys = keys()
        #expect(try first.cooldown(keys, seconds: 30, buckets: buckets) > 29)
        let blocked = try second.acquire(keys, buckets: buckets)
        #expect(blocked.granted == 0 && blocked.waitSeconds > 29 && blocked.waitSeconds <= 30, "another machine is paused too")
        #expect(try second.cooldown(keys, seconds: 1, buckets: buckets) > 29, "the later end stands")
    }

    @Test func headersOnlyEverMakeABucketEmptier() throws {
        let redis = try RedisProcess()
        let client = try client(redis)
        let buckets = SharedBuckets(requests: SharedBucket(perMinute: 60, burst: 10))
        let keys = keys()
        // The server says 100 remain: more than we hold, changes nothing.
        try client.sync(keys, remaining: (100, nil, nil, nil), buckets: buckets)
        #expect(try client.acquire(keys, requests: 10, buckets: buckets).granted == 10)
        let other = SharedLimiterKeys(prefix: "volley-test", limiter: "synced")
        // The server says 2 remain: 2 are granted, not 10.
        try client.sync(other, remaining: (2, nil, nil, nil), buckets: buckets)
        #expect(try client.acquire(other, requests: 10, buckets: buckets).granted == 2)
    }

    @Test func idleLimitersExpireAndEveryKeyCarriesTheLimitersHashTag() throws {
        let redis = try RedisProcess()
        let client = try client(redis)
        let keys = SharedLimiterKeys(prefix: "volley", limiter: "abc123")
        #expect(keys.keys == ["volley:{abc123}:rpm", "volley:{abc123}:tpm", "volley:{abc123}:itpm",
                              "volley:{abc123}:otpm", "volley:{abc123}:cooldown"])
        // 6,000 a minute, burst 1: the bucket is full again 10 ms after a request.
        let buckets = SharedBuckets(requests: SharedBucket(perMinute: 6_000, burst: 1))
        #expect(try client.acquire(keys, buckets: buckets).granted == 1)
        let ttl = try #require(try client.connection.command(["PTTL", keys.keys[0]]).integer)
        #expect(ttl > 0 && ttl <= 1_010, "expires once full again (+1 s of slack), not never")
        #expect(try client.connection.command(["PTTL", keys.keys[1]]).integer == -2, "unused buckets are never written")
    }

    @Test func aRedisThatForgotTheScriptGetsItAgain() throws {
        let redis = try RedisProcess()
        let client = try client(redis)
        let buckets = SharedBuckets(requests: SharedBucket(perMinute: 60, burst: 5))
        let keys = keys()
        #expect(try client.acquire(keys, buckets: buckets).granted == 1)
        #expect(try client.connection.command(["SCRIPT", "FLUSH"]) == .status("OK"))
        #expect(try client.acquire(keys, buckets: buckets).granted == 1)
    }

    @Test func authIsUsedAndThePasswordIsNeverInAnError() throws {
        let redis = try RedisProcess(password: "correct-horse")
        let client = try client(redis)
        #expect(try client.acquire(keys(), buckets: SharedBuckets(requests: SharedBucket(perMinute: 60, burst: 1))).granted == 1)
        #expect {
            try RedisConnection(RedisURL("redis://:wrong-battery@127.0.0.1:\(redis.port)"))
        } throws: { error in
            let error = error as? RedisError
            return error?.kind == .server && error?.message.contains("wrong-battery") == false
                && error?.message.contains("correct-horse") == false
        }
        // Without the password, commands are refused: proof the server really requires it.
        let anonymous = try RedisConnection(RedisURL("redis://127.0.0.1:\(redis.port)"))
        #expect(try anonymous.command(["GET", "x"]).text?.hasPrefix("NOAUTH") == true)
    }

    @Test func anUnreachableRedisIsUnavailableNotAHang() throws {
        let port = try TestTools.freePort()
        #expect {
            try RedisConnection(RedisURL("redis://127.0.0.1:\(port)"), timeoutSeconds: 0.5)
        } throws: { error in
            (error as? RedisError)?.kind == .unavailable
        }
        // A server that dies under a connection: the next command says so.
        let redis = try RedisProcess()
        let connection = try RedisConnection(RedisURL(redis.url), timeoutSeconds: 0.5)
        redis.kill()
        #expect {
            try connection.command(["PING"])
        } throws: { error in
            (error as? RedisError)?.kind == .unavailable
        }
    }
}
