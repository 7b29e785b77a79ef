/// A continuously refilling token bucket, the model of one server-side limit (RPM or TPM).
///
/// A pure value driven by the caller's clock (`now` in seconds, any monotonic origin), so it
/// is tested without sleeping. The bucket starts full.
struct TokenBucket: Sendable, Equatable {
    /// The configured limit per minute (what the `*-limit-*` headers report).
    let limitPerMinute: Int
    /// Most tokens the bucket holds: `limit * burstSeconds / 60` or an explicit burst, at least 1.
    let capacity: Double
    /// Tokens added per second: `limit / 60`.
    let refillPerSecond: Double
    private(set) var available: Double
    private(set) var updatedAt: Double

    /// A bucket holding `burstSeconds` of the limit.
    init(limitPerMinute: Int, burstSeconds: Double, now: Double) {
        // Bounded to a day so every derived wait and count stays far inside Int range.
        let burst = burstSeconds.isFinite && burstSeconds > 0 ? min(burstSeconds, 86_400) : 1
        self.init(limitPerMinute: limitPerMinute, capacity: Double(max(0, limitPerMinute)) * burst / 60, now: now)
    }

    /// A bucket holding `capacity` tokens (at least 1) whatever the limit, refilled at `limit / 60`
    /// per second: a per-second leaky bucket with a small burst, as stricter servers enforce.
    init(limitPerMinute: Int, capacity: Double, now: Double) {
        self.limitPerMinute = max(0, limitPerMinute)
        // Bounded so `remaining` and every derived wait stay far inside Int range.
        self.capacity = capacity.isFinite ? min(max(1, capacity), 1e15) : 1
        self.refillPerSecond = Double(self.limitPerMinute) / 60
        self.available = self.capacity
        self.updatedAt = now
    }

    /// Adds what accrued since the last update, capped at `capacity`.
    mutating func refill(now: Double) {
        guard now > updatedAt else { return }
        available = min(capacity, available + (now - updatedAt) * refillPerSecond)
        updatedAt = now
    }

    /// Whether `amount` fits now (after refilling).
    mutating func canTake(_ amount: Double, now: Double) -> Bool {
        refill(now: now)
        return amount <= available
    }

    /// Removes `amount`; call only after `canTake` said yes at the same `now`.
    mutating func take(_ amount: Double) {
        available = max(0, available - amount)
    }

    /// Whole tokens left, as the `*-remaining-*` headers report them.
    var remaining: Int { available >= 1e18 ? Int(1e18) : Int(available.rounded(.down)) }

    /// Seconds until `amount` tokens are available (0 if they are now; infinite if never).
    func secondsUntilAvailable(_ amount: Double) -> Double {
        if amount <= available { return 0 }
        if amount > capacity || refillPerSecond <= 0 { return .infinity }
        return (amount - available) / refillPerSecond
    }

    /// Seconds until the bucket is full again (the `*-reset-*` headers).
    var secondsUntilFull: Double {
        guard refillPerSecond > 0 else { return 0 }
        return (capacity - available) / refillPerSecond
    }
}
