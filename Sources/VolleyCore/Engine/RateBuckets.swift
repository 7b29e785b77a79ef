/// Requests per second as a generic cell rate algorithm (GCRA): requests are spaced
/// `1/rate` seconds apart, with at most `burst` of them back to back after idle. Pure value
/// type; times are seconds on any monotonic clock.
///
/// The rate can change while requests flow (the adaptive controller lowers and raises it):
/// the schedule already promised is kept, and spacing changes from the next request on.
struct RequestRate: Sendable, Hashable {
    private(set) var interval: Double
    private(set) var burst: Int
    private(set) var tolerance: Double
    /// Theoretical arrival time of the next request.
    private(set) var tat: Double

    /// The burst a limit of `rpm` gets when none is configured: 20 ms worth of requests, at
    /// least 1. A server that quantizes its per-minute limit into per-second (or shorter)
    /// windows, or runs a leaky bucket with a small burst (nginx `limit_req`, most gateways),
    /// accepts that; half a second's worth drew 429 storms from them.
    static func defaultBurst(rpm: Int) -> Int { max(1, rpm / 3_000) }

    init(rpm: Int, burst: Int? = nil, now: Double) {
        self.init(perSecond: Double(max(1, rpm)) / 60, burst: burst ?? Self.defaultBurst(rpm: rpm), now: now)
    }

    init(perSecond: Double, burst: Int, now: Double) {
        interval = 1 / max(perSecond, 1e-6)
        self.burst = max(1, burst)
        tolerance = Double(self.burst - 1) * interval
        tat = now
    }

    /// Requests per second.
    var perSecond: Double { 1 / interval }

    /// Changes the spacing (and burst) from the next request on.
    mutating func set(perSecond: Double, burst: Int) {
        interval = 1 / max(perSecond, 1e-6)
        self.burst = max(1, burst)
        tolerance = Double(self.burst - 1) * interval
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

/// Tokens per minute as a token bucket holding at most a minute's budget (or `burst` tokens
/// when that is smaller), refilled continuously. A call reserves its estimate before it
/// starts and the bucket is reconciled with the real usage when it ends. Starts full, as
/// providers' own buckets are after idle.
struct TokenRate: Sendable, Hashable {
    let capacity: Double
    /// Tokens per minute as configured or learned; `perSecond` is that times the scale in force.
    let perMinute: Double
    private(set) var perSecond: Double
    private(set) var level: Double
    private var updatedAt: Double

    init(tpm: Int, burst: Int? = nil, now: Double) {
        perMinute = Double(max(1, tpm))
        capacity = min(perMinute, Double(max(1, burst ?? tpm)))
        perSecond = perMinute / 60
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

    /// Refills at `scale` (0...1] of the budget from now on (the adaptive controller's cut).
    mutating func setScale(_ scale: Double, now: Double) {
        let scaled = perMinute / 60 * min(1, max(scale, 0.01))
        guard scaled != perSecond else { return }
        refill(now)
        perSecond = scaled
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

/// Tokens of one call, split as providers with separate input and output budgets count them.
struct TokenCount: Sendable, Hashable {
    var input: Int
    var output: Int

    var total: Int { input + output }

    static let zero = TokenCount(input: 0, output: 0)
}

/// The token buckets of one limiter: `tpm` counts input + output; `itpm` and `otpm` (Anthropic's
/// separate budgets) count each side. A call must fit every bucket that is configured.
struct TokenBuckets: Sendable, Hashable {
    var total: TokenRate?
    var input: TokenRate?
    var output: TokenRate?

    init(_ settings: LimiterSettings, now: Double) {
        total = settings.tpm.map { TokenRate(tpm: $0, burst: settings.tokenBurst, now: now) }
        input = settings.itpm.map { TokenRate(tpm: $0, burst: settings.tokenBurst, now: now) }
        output = settings.otpm.map { TokenRate(tpm: $0, burst: settings.tokenBurst, now: now) }
    }

    var isEmpty: Bool { total == nil && input == nil && output == nil }

    /// Keeps the buckets whose limit did not change (with their level), rebuilds the others.
    mutating func update(from old: LimiterSettings, to new: LimiterSettings, now: Double) {
        let burstChanged = new.tokenBurst != old.tokenBurst
        if burstChanged || new.tpm != old.tpm { total = new.tpm.map { TokenRate(tpm: $0, burst: new.tokenBurst, now: now) } }
        if burstChanged || new.itpm != old.itpm { input = new.itpm.map { TokenRate(tpm: $0, burst: new.tokenBurst, now: now) } }
        if burstChanged || new.otpm != old.otpm { output = new.otpm.map { TokenRate(tpm: $0, burst: new.tokenBurst, now: now) } }
    }

    /// The first budget `count` can never fit, as (tokens, limit).
    func neverFits(_ count: TokenCount) -> (tokens: Int, limit: Int)? {
        if let total, !total.fits(count.total) { return (count.total, Int(total.capacity)) }
        if let input, !input.fits(count.input) { return (count.input, Int(input.capacity)) }
        if let output, !output.fits(count.output) { return (count.output, Int(output.capacity)) }
        return nil
    }

    func earliest(_ count: TokenCount, now: Double) -> Double {
        var at = now
        if let total { at = max(at, total.earliest(count.total, now: now)) }
        if let input { at = max(at, input.earliest(count.input, now: now)) }
        if let output { at = max(at, output.earliest(count.output, now: now)) }
        return at
    }

    mutating func take(_ count: TokenCount, now: Double) {
        total?.take(count.total, now: now)
        input?.take(count.input, now: now)
        output?.take(count.output, now: now)
    }

    mutating func give(_ count: TokenCount, now: Double) {
        total?.give(count.total, now: now)
        input?.give(count.input, now: now)
        output?.give(count.output, now: now)
    }

    /// Moves each bucket from what was reserved to what was used.
    mutating func reconcile(reserved: TokenCount, used: TokenCount, now: Double) {
        func adjust(_ bucket: inout TokenRate?, _ reserved: Int, _ used: Int) {
            if used < reserved { bucket?.give(reserved - used, now: now) }
            if used > reserved { bucket?.take(used - reserved, now: now) }
        }
        adjust(&total, reserved.total, used.total)
        adjust(&input, reserved.input, used.input)
        adjust(&output, reserved.output, used.output)
    }

    mutating func setScale(_ scale: Double, now: Double) {
        total?.setScale(scale, now: now)
        input?.setScale(scale, now: now)
        output?.setScale(scale, now: now)
    }

    mutating func sync(_ state: RateLimitState, now: Double) {
        if let remaining = state.tokensRemaining { total?.sync(remaining: remaining, now: now) }
        if let remaining = state.inputTokensRemaining { input?.sync(remaining: remaining, now: now) }
        if let remaining = state.outputTokensRemaining { output?.sync(remaining: remaining, now: now) }
    }

    /// The tightest bucket's tokens left, for `stats`.
    func available(now: Double) -> Int? {
        [total, input, output].compactMap { $0?.available(now: now) }.min()
    }
}
