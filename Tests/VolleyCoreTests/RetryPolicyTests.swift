import Testing
@testable import VolleyCore

struct RetryPolicyTests {
    let policy = RetryPolicy(RetrySettings(maxRetries: 3, initialDelaySeconds: 0.5, maxDelaySeconds: 4, maxRetryAfterSeconds: 60))
    let retryable = ItemError(.http, "HTTP 500", status: 500, retryable: true)

    @Test func backoffDoublesWithinEqualJitterBounds() {
        for (retry, base) in [(1, 0.5), (2, 1.0), (3, 2.0)] {
            #expect(policy.delay(beforeRetry: retry, after: retryable, random: 0) == base / 2)
            #expect(policy.delay(beforeRetry: retry, after: retryable, random: 1) == base)
        }
    }

    @Test func backoffIsCappedAtMaxDelay() {
        let many = RetryPolicy(RetrySettings(maxRetries: 50, initialDelaySeconds: 0.5, maxDelaySeconds: 4))
        #expect(many.delay(beforeRetry: 40, after: retryable, random: 1) == 4)
        #expect(many.delay(beforeRetry: 40, after: retryable, random: 0) == 2)
    }

    @Test func finalErrorsAndExhaustedRetriesAreNotRetried() {
        #expect(policy.delay(beforeRetry: 4, after: retryable, random: 0.5) == nil)
        let quota = ItemError(.quotaExceeded, "quota", status: 429, retryable: false)
        #expect(policy.delay(beforeRetry: 1, after: quota, random: 0.5) == nil)
    }

    @Test func retryAfterIsObeyedWithPositiveJitter() {
        var limited = ItemError(.rateLimited, "429", status: 429, retryable: true, retryAfterSeconds: 5)
        #expect(policy.delay(beforeRetry: 1, after: limited, random: 0) == 5)
        #expect(policy.delay(beforeRetry: 1, after: limited, random: 1) == 5.5)
        // Beyond max_retry_after: back to exponential backoff.
        limited.retryAfterSeconds = 600
        #expect(policy.delay(beforeRetry: 1, after: limited, random: 1) == 0.5)
    }
}

struct RetryAfterTests {
    @Test func readsMillisecondsFirstThenSecondsThenHTTPDate() {
        let now = 1_445_412_480.0  // 2015-10-21 07:28:00 UTC
        #expect(RetryAfter.seconds(from: ["retry-after-ms": "250", "retry-after": "9"], nowUnixSeconds: now) == 0.25)
        #expect(RetryAfter.seconds(from: ["retry-after": "9"], nowUnixSeconds: now) == 9)
        #expect(RetryAfter.seconds(from: ["Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"], nowUnixSeconds: now) == 30)
        #expect(RetryAfter.seconds(from: ["retry-after": "Wed, 21 Oct 2015 07:27:00 GMT"], nowUnixSeconds: now) == nil)
        #expect(RetryAfter.seconds(from: ["retry-after": "soon"], nowUnixSeconds: now) == nil)
        #expect(RetryAfter.seconds(from: [:], nowUnixSeconds: now) == nil)
    }

    @Test func httpDateParsesIMFFixdate() {
        #expect(HTTPDate.parse("Thu, 01 Jan 1970 00:00:00 GMT") == 0)
        #expect(HTTPDate.parse("Wed, 21 Oct 2015 07:28:00 GMT") == 1_445_412_480)
        #expect(HTTPDate.parse("Tue, 29 Feb 2028 12:00:00 GMT") == 1_835_438_400)
        #expect(HTTPDate.parse("21 Oct 2015 07:28:00 GMT") == nil)
        #expect(HTTPDate.parse("Wed, 21 Foo 2015 07:28:00 GMT") == nil)
    }

    /// Found by fuzz-headers: a long year overflowed the day count and trapped the sidecar on a
    /// server's `retry-after` (Tests/FuzzCorpus/headers/retry-after-huge-year).
    @Test func httpDateWithAYearOfMoreThanFourDigitsIsNotADate() {
        #expect(HTTPDate.parse("Tue, 14 Nov 20333333333333323 22:15:00 GMT") == nil)
        #expect(HTTPDate.parse("Tue, 14 Nov 9223372036854775807 22:15:00 GMT") == nil)
        #expect(HTTPDate.parse("Tue, 14 Nov +2023 22:15:00 GMT") == nil)
        #expect(HTTPDate.parse("Tue, 14 Nov 2023 +2:15:00 GMT") == nil)
        #expect(RetryAfter.seconds(from: ["retry-after": "Tue, 14 Nov 20333333333333323 22:15:00 GMT"], nowUnixSeconds: 0) == nil)
    }
}
