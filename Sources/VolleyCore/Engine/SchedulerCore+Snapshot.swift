extension SchedulerCore {
    /// One limiter's gauges, for `stats`.
    struct Snapshot: Equatable {
        var inFlight: Int
        var queued: Int
        var settings: LimiterSettings
        var requestsAvailable: Int?
        var tokensAvailable: Int?
        /// Limits learned from headers (not configured), if any.
        var learnedRPM: Int?
        var learnedTPM: Int?
        /// The rate and concurrency in force (adapted), if a rate is.
        var effectiveRPM: Double?
        var effectiveTPM: Double?
        var effectiveConcurrency: Int
        /// Seconds until the cooldown ends (0 when none).
        var cooldownSeconds: Double
    }

    /// Gauges per limiter (for `stats`).
    func snapshot(now: Double) -> [String: Snapshot] {
        var queued: [String: Int] = [:]
        for waiter in waiters.values { queued[waiter.limiter, default: 0] += 1 }
        var result: [String: Snapshot] = [:]
        for (name, limiter) in limiters {
            let learned = limiter.settings.rpm == nil ? limiter.control.ceilingRate : nil
            result[name] = Snapshot(
                inFlight: limiter.inFlight,
                queued: queued[name] ?? 0,
                settings: limiter.settings,
                requestsAvailable: limiter.requests?.available(now: now),
                tokensAvailable: limiter.tokens.available(now: now),
                learnedRPM: learned.map { Int(($0 * 60).rounded()) },
                learnedTPM: limiter.settings.tpm == nil ? limiter.tokens.total.map { Int($0.perMinute.rounded()) } : nil,
                effectiveRPM: limiter.control.rate.map { $0 * 60 },
                effectiveTPM: limiter.tokens.total.map { $0.perSecond * 60 },
                effectiveConcurrency: limiter.control.window(at: now),
                cooldownSeconds: max(0, limiter.control.cooldownUntil - now)
            )
        }
        return result
    }
}
