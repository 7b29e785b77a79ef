/// Corrects one limiter's rate and concurrency from what the server does, the way TCP finds
/// a path's capacity: slow start when nothing is known, multiplicative decrease when the
/// server refuses, additive increase while it accepts. Also owns the limiter's cooldown.
///
/// Pure value type driven by the caller's clock (`now`, seconds) and random numbers, so every
/// decision is tested in virtual time (`AdaptiveLimitTests`, `LimiterSimulationTests`).
///
/// - **Rate.** A refusal (429, or 503/529 "overloaded") while the limiter believed it was
///   within budget means the configured or learned limit is too high, or another process
///   shares the key. The rate drops to `decrease` x the rate the server actually accepted
///   over the last `estimateWindow` (not the configured one), and at most halves per refusal.
///   Refusals of requests sent before the last decrease are the same congestion and do not
///   decrease again. After `holdoff` seconds of clean answers the rate climbs: doubling per
///   second while under half the best capacity measured, then `approachStep` per second up
///   to 95% of it, `plateauStep` up to it, and `probeStep` above it, never past the ceiling
///   (the configured or learned limit).
/// - **Concurrency.** Some servers refuse above K requests in flight whatever the rate. A
///   refusal whose request started with at least as many in flight as any request the server
///   accepted cleanly, while the rate was not what held requests back (or whose body says
///   "concurrent"), lowers the window to one less than that; a later refusal below the window
///   shows the limit was the rate after all and gives the window back. The window probes one
///   higher every `windowProbeInterval` while full.
/// - **Slow start.** With neither `rpm` nor `concurrency` configured and nothing learned, the
///   window starts at `initialWindow` and grows by one per clean answer (doubling per round
///   trip, and at least every `slowStartDoubling` seconds, so slow answers do not hold it
///   back) until the first refusal or the default concurrency.
/// - **Cooldown.** A `retry-after` pauses the limiter from now for the hint, capped at
///   `max_retry_after`, plus up to 10% (at most 1 s) of positive jitter. A refusal of a
///   request sent before the current cooldown began never extends it, so a long hint on every
///   429 cannot freeze the limiter; a bare 429 pauses for one spacing of the new rate.
/// - **Tokens.** A refusal whose body says it is about tokens cuts the token budgets in force
///   (their refill rate) to 70%, once per congestion, instead of the request rate; clean
///   answers raise them back by 5% of the budget per second.
/// - **Clean.** Only first attempts that succeed count as clean: a success that needed retries
///   says nothing about the limit being right.
struct AdaptiveLimit: Sendable, Equatable {
    struct Tuning: Sendable, Equatable {
        var decrease = 0.9
        var maxCut = 0.5
        var holdoff = 1.0
        var approachStep = 0.05
        var plateauStep = 0.005
        var probeStep = 0.02
        var windowProbeInterval = 2.0
        var initialWindow = 4
        var slowStartDoubling = 0.25
        var estimateWindow = 1.0
        /// The lowest rate: one request a minute.
        var floor = 1.0 / 60
    }

    /// What the server said when it refused a request.
    struct Refusal: Sendable, Equatable {
        /// `retry-after` in seconds, if sent.
        var retryAfter: Double?
        /// The body says the limit is on concurrent requests.
        var concurrencyHint: Bool = false
        /// The body says the limit is on tokens (OpenAI's "tokens per min", type `tokens`).
        var tokensHint: Bool = false
    }

    /// When an attempt started and how many were in flight with it (itself included).
    struct Ticket: Sendable, Equatable {
        var startedAt: Double
        var inFlight: Int
    }

    let tuning: Tuning
    /// Whether rate and window adapt (off for the mock provider, or `adaptive: false`).
    let adapts: Bool
    /// Upper bounds: the configured (or default) concurrency; the configured or learned rate.
    private(set) var ceilingWindow: Int
    private(set) var ceilingRate: Double?
    /// The rate in force (requests per second), nil when none is.
    private(set) var rate: Double?
    /// Requests allowed back to back after idle.
    private(set) var burst: Int
    private let configuredBurst: Int?
    /// The concurrency in force.
    private(set) var window: Int
    private(set) var slowStart: Bool
    private var slowStartBegan: Double?
    /// Nothing starts before this time.
    private(set) var cooldownUntil: Double = 0
    private var cooldownSetAt = -Double.infinity
    /// The best capacity measured at a refusal (requests per second the server accepted).
    private(set) var bestRate: Double?
    private var lastDecrease = -Double.infinity
    /// The last cooldown's length: the price of a refusal, which sets how rarely to probe.
    private var lastPenalty = 0.0
    /// The last rate cut had no measurement to go by.
    private var lastCutWasBlind = false
    private var lastRateChange = -Double.infinity
    private var lastWindowChange = -Double.infinity
    /// The window before a cut made on the guess that the limit was concurrency.
    private var windowBeforeCut: Int?
    /// The most in flight at the start of a request the server accepted cleanly.
    private var cleanHigh = 0
    private var starts = SlotCounter()
    private var accepted = SlotCounter()
    /// The fraction of the token budgets (`tpm`, `itpm`, `otpm`) in force: token refusals cut
    /// it, clean answers raise it back to 1.
    private(set) var tokenScale = 1.0
    private var lastTokenCut = -Double.infinity
    private var lastTokenRaise = -Double.infinity
    /// Refusals that decreased the rate.
    private(set) var rateDecreases = 0

    /// - Parameters:
    ///   - concurrency: the configured or default concurrency (the window's ceiling).
    ///   - rpm: the configured requests per minute, if any.
    ///   - burst: the configured burst, if any.
    ///   - slowStart: start with a small window (nothing configured).
    init(concurrency: Int, rpm: Int?, burst: Int?, slowStart: Bool, adapts: Bool, tuning: Tuning = Tuning()) {
        self.tuning = tuning
        self.adapts = adapts
        ceilingWindow = max(1, concurrency)
        ceilingRate = rpm.map { Double(max(1, $0)) / 60 }
        rate = ceilingRate
        configuredBurst = burst
        self.burst = burst ?? rpm.map(RequestRate.defaultBurst(rpm:)) ?? 1
        self.slowStart = adapts && slowStart && rpm == nil
        window = self.slowStart ? min(ceilingWindow, tuning.initialWindow) : ceilingWindow
    }

    /// The provider stated its limit (rate-limit headers) and none was configured: it becomes
    /// the ceiling, and the rate in force when none was.
    mutating func learn(rpm: Int) {
        let learned = Double(max(1, rpm)) / 60
        ceilingRate = learned
        if rate == nil || !adapts { rate = learned }
        if configuredBurst == nil { burst = RequestRate.defaultBurst(rpm: rpm) }
        if slowStart {
            slowStart = false
            window = ceilingWindow
        }
    }

    /// Whether the window has room for one more attempt.
    func hasRoom(inFlight: Int, now: Double) -> Bool { inFlight < window(at: now) }

    /// The window in force at `now`. In slow start it also doubles every `slowStartDoubling`
    /// seconds from the first attempt: answers that take long (a model writing for a minute)
    /// must not keep an unknown limit at four in flight for minutes.
    func window(at now: Double) -> Int {
        guard slowStart, let began = slowStartBegan, now > began else { return window }
        let doublings = Int(min(20, (now - began) / tuning.slowStartDoubling))
        return min(ceilingWindow, max(window, tuning.initialWindow << doublings))
    }

    /// When the slow-start window next grows by time, if it does.
    func nextWindowGrowth(now: Double) -> Double? {
        guard slowStart, let began = slowStartBegan, window(at: now) < ceilingWindow else { return nil }
        let doublings = ((now - began) / tuning.slowStartDoubling).rounded(.down) + 1
        return began + doublings * tuning.slowStartDoubling
    }

    /// Books a started attempt (`inFlight` counts it).
    mutating func started(now: Double) {
        starts.add(at: now)
        if slowStart, slowStartBegan == nil { slowStartBegan = now }
    }

    /// An attempt the server accepted. `clean`: a first attempt. `backlog`: requests are
    /// waiting on this limiter (so its limits, not the demand, set the pace).
    mutating func accepted(_ ticket: Ticket, clean: Bool, backlog: Bool, now: Double) {
        accepted.add(at: ticket.startedAt)
        guard adapts, clean else { return }
        // Sent before the window last changed: its in-flight count says nothing of the new one.
        if ticket.startedAt >= lastWindowChange { cleanHigh = max(cleanHigh, ticket.inFlight) }
        if slowStart {
            window = min(ceilingWindow, window + 1)
            if window == ceilingWindow { slowStart = false }
            return
        }
        if window < ceilingWindow, ticket.inFlight >= window, now - lastWindowChange >= tuning.windowProbeInterval {
            window += 1
            lastWindowChange = now
        }
        if backlog {
            increaseRate(now: now)
            raiseTokenScale(now: now)
        }
    }

    private mutating func raiseTokenScale(now: Double) {
        guard tokenScale < 1, now - lastTokenCut >= tuning.holdoff else { return }
        let elapsed = min(1, max(0, now - lastTokenRaise))
        lastTokenRaise = now
        tokenScale = min(1, tokenScale + tuning.approachStep * elapsed)
    }

    /// An attempt the server refused (429, or overloaded). `random` is in 0..<1 (jitter).
    mutating func refused(_ ticket: Ticket, _ refusal: Refusal, backlog: Bool, maxRetryAfter: Double, barePause: Double,
                          random: Double, now: Double) {
        coolDown(ticket, refusal, maxRetryAfter: maxRetryAfter, barePause: barePause, random: random, now: now)
        if adapts, refusal.tokensHint {
            // Over the token budget, not the request rate: the token buckets refill slower.
            guard ticket.startedAt >= lastTokenCut else { return }
            tokenScale = max(0.05, tokenScale * 0.7)
            lastTokenCut = now
            lastTokenRaise = now
            return
        }
        guard adapts, ticket.startedAt >= lastDecrease else { return }
        lastDecrease = now
        if slowStart {
            window = self.window(at: now)
            slowStart = false
        }
        // A concurrency limit looks like this: refused with as many in flight as any clean
        // answer had, or more (our count runs a little ahead of the server's, so "as many"
        // counts too), while the rate was not what held us back. Sending at the rate in force,
        // the rate is the suspect: at a steady latency the two look alike, and only a rate
        // cut can run at the server's full rate.
        let atCleanHigh = cleanHigh > 1 && ticket.inFlight >= cleanHigh
        let rateBinds = rate != nil && backlog && ticket.inFlight < window
        let belowWindow = windowBeforeCut != nil && ticket.inFlight < window
        if refusal.concurrencyHint || (atCleanHigh && !rateBinds && !belowWindow) {
            if windowBeforeCut == nil { windowBeforeCut = window }
            window = max(1, min(window, ticket.inFlight - 1))
            cleanHigh = min(cleanHigh, window)
            lastWindowChange = now
            return
        }
        if let before = windowBeforeCut, belowWindow {
            // Refused below the cut window too: the limit was the rate, not concurrency.
            window = max(window, before)
            windowBeforeCut = nil
        }
        decreaseRate(at: ticket.startedAt, now: now)
    }

    /// Requests per second the server accepted over the estimate window before `time`.
    func acceptedRate(before time: Double) -> Double? {
        rate(of: accepted, before: time)
    }

    /// Requests per second started over the estimate window before `time`.
    func startRate(before time: Double) -> Double? {
        rate(of: starts, before: time)
    }

    private func rate(of counter: SlotCounter, before time: Double) -> Double? {
        guard let first = counter.first else { return nil }
        let span = max(SlotCounter.width, min(tuning.estimateWindow, time - first))
        let count = counter.count(from: time - span, to: time)
        return count > 0 ? Double(count) / span : nil
    }

    private mutating func decreaseRate(at startedAt: Double, now: Double) {
        let estimate = acceptedRate(before: startedAt)
        // Refused again before any answer came back: one blind halving is enough until the
        // first measurement arrives (a refusal comes back in a millisecond, an answer later).
        if estimate == nil, lastCutWasBlind { return }
        lastCutWasBlind = estimate == nil
        let current = rate ?? startRate(before: startedAt) ?? estimate ?? tuning.floor
        // Without a measurement yet (refused before any answer came back), halve.
        var new = estimate.map { tuning.decrease * min(current, $0) } ?? current * tuning.maxCut
        new = max(new, current * tuning.maxCut, tuning.floor)
        if let estimate, estimate >= 0.25 * (bestRate ?? 0) { bestRate = estimate }
        rate = new
        // A refusal says bursts are not welcome either.
        burst = 1
        lastRateChange = now
        rateDecreases += 1
    }

    private mutating func increaseRate(now: Double) {
        guard var current = rate, now - lastDecrease >= tuning.holdoff else { return }
        let elapsed = min(1, max(0, now - lastRateChange))
        lastRateChange = now
        guard elapsed > 0, rateDecreases > 0 || (ceilingRate.map { current < $0 } ?? false) else { return }
        let reference = bestRate ?? ceilingRate ?? current
        // Probing past 95% of the known capacity costs a refusal, and a refusal costs its
        // cooldown: probe at most once per ten cooldowns' worth of time.
        let mayProbe = now - lastDecrease >= max(tuning.holdoff, 10 * lastPenalty)
        if current < 0.5 * reference || (bestRate == nil && ceilingRate == nil) {
            current *= 1 + elapsed  // About doubling per second.
        } else if current < 0.95 * reference {
            current = min(current + tuning.approachStep * reference * elapsed, max(current, 0.95 * reference))
        } else if !mayProbe {
            return
        } else if current < reference {
            current += tuning.plateauStep * reference * elapsed
        } else {
            current += tuning.probeStep * reference * elapsed
        }
        if let ceilingRate { current = min(current, ceilingRate) }
        rate = current
        if current == ceilingRate, let configuredBurst { burst = configuredBurst }
    }

    private mutating func coolDown(_ ticket: Ticket, _ refusal: Refusal, maxRetryAfter: Double, barePause: Double,
                                   random: Double, now: Double) {
        // Sent before the current cooldown began: the same congestion, already obeyed.
        guard ticket.startedAt >= cooldownSetAt else { return }
        let pause: Double
        if let hint = refusal.retryAfter, hint > 0 {
            let capped = min(hint, maxRetryAfter)
            pause = capped + min(1, capped * 0.1) * min(max(random, 0), 1)
        } else if adapts {
            pause = refusal.concurrencyHint ? 0 : min(1, rate.map { 1 / $0 } ?? 0)
        } else {
            pause = barePause
        }
        guard pause > 0 else { return }
        lastPenalty = pause
        cooldownUntil = now + pause
        cooldownSetAt = now
    }
}

/// Counts events in 50 ms slots over the last two seconds: enough to estimate a rate at any
/// request rate in constant memory.
struct SlotCounter: Sendable, Equatable {
    static let width = 0.05
    static let slots = 40
    private var counts = [Int](repeating: 0, count: SlotCounter.slots)
    private var indices = [Int](repeating: Int.min, count: SlotCounter.slots)
    /// The first event's time, if any.
    private(set) var first: Double?

    mutating func add(at time: Double) {
        if first == nil { first = time }
        let index = Self.index(time)
        let slot = Self.slot(index)
        if indices[slot] != index {
            indices[slot] = index
            counts[slot] = 0
        }
        counts[slot] += 1
    }

    /// Events in the slots from `from` to `to` (whole slots; at most the last two seconds).
    func count(from: Double, to: Double) -> Int {
        let last = Self.index(to)
        let firstIndex = max(Self.index(from), last - Self.slots + 1)
        guard firstIndex <= last else { return 0 }
        var total = 0
        for index in firstIndex...last where indices[Self.slot(index)] == index {
            total += counts[Self.slot(index)]
        }
        return total
    }

    private static func index(_ time: Double) -> Int {
        let scaled = (time / width).rounded(.down)
        return scaled.isFinite ? Int(max(min(scaled, 1e15), -1e15)) : 0
    }

    private static func slot(_ index: Int) -> Int {
        ((index % slots) + slots) % slots
    }
}
