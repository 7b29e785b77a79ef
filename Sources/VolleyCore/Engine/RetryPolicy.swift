/// Decides whether and when a failed attempt is retried. Pure: the caller supplies the
/// random number, so tests are exact.
public struct RetryPolicy: Sendable, Hashable {
    public var settings: RetrySettings

    public init(_ settings: RetrySettings) {
        self.settings = settings
    }

    /// The delay in seconds before retry number `retry` (1 for the first retry) after
    /// `error`, or nil when it must not be retried (final error, or retries used up).
    ///
    /// A server's `retry-after` within `maxRetryAfterSeconds` is obeyed, plus up to 10% (at
    /// most 1 s) of positive jitter so a batch does not come back in lockstep. Otherwise:
    /// exponential backoff `initial * 2^(retry-1)` capped at `maxDelay`, with "equal jitter"
    /// (between half and all of it). `random` is in 0..<1.
    public func delay(beforeRetry retry: Int, after error: ItemError, random: Double) -> Double? {
        guard error.retryable, retry >= 1, retry <= settings.maxRetries else { return nil }
        let unit = min(max(random, 0), 1)
        if let retryAfter = error.retryAfterSeconds, retryAfter > 0, retryAfter <= settings.maxRetryAfterSeconds {
            return retryAfter + min(1, retryAfter * 0.1) * unit
        }
        let exponent = Double(min(retry - 1, 30))
        let base = min(settings.maxDelaySeconds, settings.initialDelaySeconds * pow2(exponent))
        return base / 2 + base / 2 * unit
    }

    private func pow2(_ exponent: Double) -> Double {
        var value = 1.0
        var remaining = Int(exponent)
        while remaining > 0 {
            value *= 2
            remaining -= 1
        }
        return value
    }
}
