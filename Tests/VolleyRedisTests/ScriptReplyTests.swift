import Testing
import VolleyRedis

/// What Volley reads from the shared-limits script's replies: pure, no Redis needed.
struct ScriptReplyTests {
    @Test func aGrantHasAsManyStartsAsItSays() {
        let grant = SharedGrant(reply: [2, 0, 0, 0, 1_500])
        #expect(grant?.starts == [0, 0.0015])
        #expect(grant?.retryAfter == 0 && grant?.othersCooldown == false)
        #expect(SharedGrant(reply: [0, 250_000, 1])?.othersCooldown == true)
        #expect(SharedGrant(reply: [3, 0, 0, 0]) == nil)
        #expect(SharedGrant(reply: [-1, 0, 0]) == nil)
        #expect(SharedGrant(reply: [0, 0]) == nil)
    }

    /// Found while writing fuzz-redis (review of what it reaches; the fuzzer itself did not hit
    /// the value): a first number near Int64.max overflowed `3 + count` and trapped the
    /// shared-limits thread. Tests/FuzzCorpus/redis/grant-count-overflow is this reply.
    @Test func aGrantCountNearInt64MaxIsNotAGrant() {
        #expect(SharedGrant(reply: [Int64.max, 0, 0]) == nil)
        #expect(SharedGrant(reply: [Int64.max - 2, 0, 0, 7]) == nil)
    }

    @Test func scriptRepliesAreNumbersOrTheServersError() throws {
        #expect(try SharedLimitClient.scriptResult(.array([.integer(1), .integer(2)])).get() == [1, 2])
        #expect(throws: RedisError.self) { try SharedLimitClient.scriptResult(.array([.integer(1)])).get() }
        #expect(throws: RedisError.self) { try SharedLimitClient.scriptResult(.array([.integer(1), .string([])])).get() }
        #expect(throws: RedisError.self) { try SharedLimitClient.scriptResult(.status("OK")).get() }
        guard case .failure(let error) = SharedLimitClient.scriptResult(.error("NOSCRIPT No matching script")) else {
            Issue.record("an error reply is an error")
            return
        }
        #expect(error.message == "NOSCRIPT No matching script" && error.kind == .server)
    }
}
