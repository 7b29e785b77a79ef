/// Requests per minute as a generic cell rate algorithm (GCRA): requests are spaced
/// `60/rpm` seconds apart, with a burst of `burst` allowed after idle, never a whole minute's
/// worth at once. Pure value type; times are seconds on any monotonic clock.
struct RequestRate: Sendable, Hashable {
    let interval: Double
    let tolerance: Double
    let burst: Int
    /// Theoretical arrival time of the next request.
    private(set) var tat: Double

    /// The default burst is half a second's worth of requests (at least 1).
    init(rpm: Int, burst: Int? = nil, now: Double) {
        let rpm = max(1, rpm)
        interval = 60 / Double(rpm)
        self.burst = max(1, burst ?? rpm / 120)
        tolerance = Double(self.burst - 1) * interval
        tat = now
    }

    /// The earliest time a request may start.
    func earliest(now: Double) -> Double {
        max(now, tat - tolerance)
    }

    mutating func take(now: Double) {
        tat = max(tat, now) + interval
    }

    /// Requests that could start right now.
    func available(now: Double) -> Int {
        let slack = now + tolerance - tat
        return slack < 0 ? 0 : min(burst, Int(slack / interval) + 1)
    }

    /// The server says `remaining` requests are left and the window resets in `resetSeconds`.
    /// Only ever makes us slower: a shared key may be used by others.
    mutating func sync(remaining: Int, resetSeconds: Double?, now: Double) {
        if remaining <= 0 {
            // Nothing left at the server: nothing starts before its window resets.
            tat = max(tat, now + tolerance + min(resetSeconds ?? interval, 60))
        } else if remaining < available(now: now) {
            // Leave exactly `remaining` requests of burst.
            tat = max(tat, now + tolerance - Double(remaining - 1) * interval)
        }
    }
}

/// Tokens per minute as a token bucket holding at most a minute's budget, refilled
/// continuously. A call reserves its estimate before it starts and the bucket is reconciled
/// with the real usage when it ends. Starts full, as providers' own buckets are after idle.
struct TokenRate: Sendable, Hashable {
    let capacity: Double
    let perSecond: Double
    private(set) var level: Double
    private var updatedAt: Double

    init(tpm: Int, now: Double) {
        capacity = Double(max(1, tpm))
        perSecond = capacity / 60
        level = capacity
        updatedAt = now
    }

    /// Whether `tokens` can ever fit.
    func fits(_ tokens: Int) -> Bool { Double(tokens) <= capacity }

    /// The earliest time `tokens` may be reserved.
    func earliest(_ tokens: Int, now: Double) -> Double {
        let current = min(capacity, level + (now - updatedAt) * perSecond)
        let missing = Double(tokens) - current
        return missing <= 0 ? now : now + missing / perSecond
    }

    mutating func take(_ tokens: Int, now: Double) {
        refill(now)
        level -= Double(tokens)
    }

    /// Returns `tokens` (an over-estimate, or a reservation that was never used).
    mutating func give(_ tokens: Int, now: Double) {
        refill(now)
        level = min(capacity, level + Double(tokens))
    }

    /// Tokens left now.
    func available(now: Double) -> Int {
        Int(min(capacity, level + (now - updatedAt) * perSecond))
    }

    /// The server says `remaining` tokens are left: never more optimistic than that.
    mutating func sync(remaining: Int, now: Double) {
        refill(now)
        level = min(level, Double(remaining))
    }

    private mutating func refill(_ now: Double) {
        guard now > updatedAt else { return }
        level = min(capacity, level + (now - updatedAt) * perSecond)
        updatedAt = now
    }
}
