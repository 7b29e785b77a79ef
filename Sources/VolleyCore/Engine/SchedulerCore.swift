/// The limits of one (provider, model) pair.
struct LimiterSettings: Sendable, Hashable {
    var concurrency: Int
    var rpm: Int?
    var tpm: Int?
    /// Anthropic-style separate budgets: input tokens and output tokens per minute.
    var itpm: Int? = nil
    var otpm: Int? = nil
    /// Whether the provider gives back the unused part of a reservation when a call ends.
    /// Anthropic adjusts to the tokens really used; OpenAI charges its estimate (prompt +
    /// `max_tokens`) when the request arrives and keeps it, so reconciling downwards would
    /// make us more optimistic than the server.
    var refundsUnusedTokens = true
}

/// Admission of attempts to providers. Per limiter (one per provider and model): a
/// concurrency permit, requests per minute (GCRA), tokens per minute (reserve, then
/// reconcile) and a cooldown after a 429. Between batches: interactive before background, and
/// round-robin among the batches of one priority so a huge batch never starves a small one.
///
/// Pure value type: every call takes `now` (seconds, monotonic) and returns the waiters granted
/// as a result; the caller resumes them, and calls `poll` at `nextWake`.
struct SchedulerCore {
    struct Waiter {
        var id: UInt64
        var batch: UInt64
        var priority: Priority
        var limiter: String
        /// Estimated tokens this attempt reserves (zero without a token limit).
        var tokens: TokenCount
    }

    /// A request can never be admitted: its estimate exceeds a whole minute's token budget.
    struct TooLarge: Error, Equatable {
        var tokens: Int
        var tpm: Int
    }

    /// Gauges of one limiter.
    struct Snapshot: Equatable {
        var inFlight: Int
        var queued: Int
        var settings: LimiterSettings
        var requestsAvailable: Int?
        var tokensAvailable: Int?
        /// Limits learned from headers (not configured), if any.
        var learnedRPM: Int?
        var learnedTPM: Int?
        /// Seconds until the cooldown ends (0 when none).
        var cooldownSeconds: Double
    }

    /// Batches of one priority waiting on one limiter, served in rotation.
    private struct Lane {
        var order: [UInt64] = []
        var cursor = 0
        var queues: [UInt64: Queue<UInt64>] = [:]

        var isEmpty: Bool { order.isEmpty }

        mutating func push(_ id: UInt64, batch: UInt64) {
            if queues[batch] == nil {
                queues[batch] = Queue()
                order.append(batch)
            }
            queues[batch]?.push(id)
        }

        /// The waiter whose turn it is, dropping cancelled ones on the way.
        mutating func peek(isLive: (UInt64) -> Bool) -> UInt64? {
            while !order.isEmpty {
                if cursor >= order.count { cursor = 0 }
                let batch = order[cursor]
                var queue = queues[batch] ?? Queue()
                while let head = queue.peek(), !isLive(head) { _ = queue.pop() }
                if let head = queue.peek() {
                    queues[batch] = queue
                    return head
                }
                queues[batch] = nil
                order.remove(at: cursor)
            }
            return nil
        }

        /// Takes the waiter `peek` returned and moves the turn to the next batch.
        mutating func commit() {
            guard !order.isEmpty else { return }
            if cursor >= order.count { cursor = 0 }
            let batch = order[cursor]
            var queue = queues[batch] ?? Queue()
            _ = queue.pop()
            if queue.isEmpty {
                queues[batch] = nil
                order.remove(at: cursor)
            } else {
                queues[batch] = queue
                cursor += 1
            }
        }
    }

    private struct Limiter {
        var settings: LimiterSettings
        var inFlight = 0
        var lanes: [Priority: Lane] = [:]
        var requests: RequestRate?
        var tokens: TokenBuckets
        var cooldownUntil: Double = 0

        init(settings: LimiterSettings, now: Double) {
            self.settings = settings
            requests = settings.rpm.map { RequestRate(rpm: $0, now: now) }
            tokens = TokenBuckets(settings, now: now)
        }

        /// Whether an attempt reserving `tokens` may start now (permit, cooldown, time).
        func canStart(_ tokens: TokenCount, now: Double) -> Bool {
            inFlight < settings.concurrency && now >= cooldownUntil && isDue(tokens, now: now)
        }

        /// Whether the rate buckets allow an attempt reserving `tokens` now. A nanosecond of
        /// slack absorbs floating-point error in the bucket arithmetic.
        func isDue(_ tokens: TokenCount, now: Double) -> Bool {
            if let requests, requests.earliest(now: now) > now + 1e-9 { return false }
            return self.tokens.earliest(tokens, now: now) <= now + 1e-9
        }

        /// Books a started attempt.
        mutating func start(_ tokens: TokenCount, now: Double) {
            requests?.take(now: now)
            self.tokens.take(tokens, now: now)
            inFlight += 1
        }

        mutating func update(_ new: LimiterSettings, now: Double) {
            guard new != settings else { return }
            if new.rpm != settings.rpm { requests = new.rpm.map { RequestRate(rpm: $0, now: now) } }
            tokens.update(from: settings, to: new, now: now)
            settings = new
        }
    }

    private var limiters: [String: Limiter] = [:]
    private var waiters: [UInt64: Waiter] = [:]

    /// Adds a waiter under `settings` (which create or update its limiter) and returns the
    /// waiters granted now; fails at once when the request can never fit.
    mutating func enqueue(_ waiter: Waiter, settings: LimiterSettings, now: Double) -> Result<[UInt64], TooLarge> {
        admit(waiter, settings: settings, now: now).map { admission in
            switch admission {
            case .startedAtOnce: return [waiter.id]
            case .queued(let granted): return granted
            }
        }
    }

    /// What `admit` did with a waiter.
    enum Admission {
        /// It was first in line and could start: granted without being queued.
        case startedAtOnce
        /// It was queued; these waiters (maybe it among them) were granted as a result.
        case queued(granted: [UInt64])
    }

    /// `enqueue` without an array for the common case (nobody waiting, room to start).
    mutating func admit(_ waiter: Waiter, settings: LimiterSettings, now: Double) -> Result<Admission, TooLarge> {
        // Each limiter is changed in place (`limiters.values[index]`): a limiter copied out
        // of the dictionary and written back would copy its lanes on every change.
        let index: Dictionary<String, Limiter>.Index
        if let existing = limiters.index(forKey: waiter.limiter) {
            index = existing
            limiters.values[index].update(settings, now: now)
        } else {
            limiters[waiter.limiter] = Limiter(settings: settings, now: now)
            guard let created = limiters.index(forKey: waiter.limiter) else { return .success(.queued(granted: [])) }
            index = created
        }
        if let tooLarge = limiters.values[index].tokens.neverFits(waiter.tokens) {
            return .failure(TooLarge(tokens: tooLarge.tokens, tpm: tooLarge.limit))
        }
        // Fast path: nobody waits on this limiter, so the newcomer is first in line; when it
        // can start now it is granted without being queued (the same decision `grant` makes).
        if limiters.values[index].lanes.isEmpty, limiters.values[index].canStart(waiter.tokens, now: now) {
            limiters.values[index].start(waiter.tokens, now: now)
            return .success(.startedAtOnce)
        }
        waiters[waiter.id] = waiter
        limiters.values[index].lanes[waiter.priority, default: Lane()].push(waiter.id, batch: waiter.batch)
        return .success(.queued(granted: Self.grant(&limiters.values[index], waiters: &waiters, now: now)))
    }

    /// Removes a waiter that has not been granted. False when it was not waiting.
    mutating func cancel(_ id: UInt64) -> Bool {
        waiters.removeValue(forKey: id) != nil  // Lazily dropped from its lane.
    }

    /// An attempt granted earlier ended. `reservedTokens` is what it reserved; `usedTokens`
    /// the usage the provider reported (nil when unknown); `refund` gives the whole
    /// reservation back (the request was refused and not charged, e.g. a 429).
    mutating func release(limiter name: String, reservedTokens: TokenCount, usedTokens: TokenCount?, refund: Bool, now: Double) -> [UInt64] {
        guard let index = limiters.index(forKey: name) else { return [] }
        limiters.values[index].inFlight -= 1
        if refund {
            limiters.values[index].tokens.give(reservedTokens, now: now)
        } else if let used = usedTokens {
            let refunds = limiters.values[index].settings.refundsUnusedTokens
            // Without refunds only an under-estimate is corrected (the server charged more).
            let counted = refunds ? used : TokenCount(input: max(used.input, reservedTokens.input),
                                                      output: max(used.output, reservedTokens.output))
            limiters.values[index].tokens.reconcile(reserved: reservedTokens, used: counted, now: now)
        }
        if limiters.values[index].lanes.isEmpty { return [] }
        return Self.grant(&limiters.values[index], waiters: &waiters, now: now)
    }

    /// The provider said "slow down": nothing more starts on this limiter until `until`.
    mutating func coolDown(limiter name: String, until: Double) {
        guard let current = limiters[name]?.cooldownUntil else { return }
        limiters[name]?.cooldownUntil = max(current, until)
    }

    /// Re-syncs the buckets from the provider's rate-limit headers. A limit the configuration
    /// leaves unset is learned from the headers' `limit` fields (`x-ratelimit-limit-*`,
    /// `anthropic-ratelimit-*-limit`), so an unconfigured provider still gets paced.
    mutating func sync(limiter name: String, _ state: RateLimitState, now: Double) {
        guard let limiter = limiters[name] else { return }
        if limiter.requests == nil, limiter.settings.rpm == nil, let limit = state.requestsLimit, limit > 0 {
            limiters[name]?.requests = RequestRate(rpm: limit, now: now)
        }
        if limiter.tokens.total == nil, limiter.settings.tpm == nil, let limit = state.tokensLimit, limit > 0 {
            limiters[name]?.tokens.total = TokenRate(tpm: limit, now: now)
        }
        if limiter.tokens.input == nil, limiter.settings.itpm == nil, let limit = state.inputTokensLimit, limit > 0 {
            limiters[name]?.tokens.input = TokenRate(tpm: limit, now: now)
        }
        if limiter.tokens.output == nil, limiter.settings.otpm == nil, let limit = state.outputTokensLimit, limit > 0 {
            limiters[name]?.tokens.output = TokenRate(tpm: limit, now: now)
        }
        if let remaining = state.requestsRemaining {
            limiters[name]?.requests?.sync(remaining: remaining, resetSeconds: state.requestsResetSeconds, now: now)
        }
        limiters[name]?.tokens.sync(state, now: now)
    }

    /// Grants what time has made possible (call at `nextWake`).
    mutating func poll(now: Double) -> [UInt64] {
        var granted: [UInt64] = []
        for index in limiters.indices where !limiters.values[index].lanes.isEmpty {
            granted += Self.grant(&limiters.values[index], waiters: &waiters, now: now)
        }
        return granted
    }

    /// The earliest time a waiting request could be granted, if waiting on time alone.
    func nextWake(now: Double) -> Double? {
        var earliest: Double?
        for (_, limiter) in limiters where limiter.inFlight < limiter.settings.concurrency {
            guard let head = headWaiter(limiter) else { continue }
            var at = max(now, limiter.cooldownUntil)
            if let requests = limiter.requests { at = max(at, requests.earliest(now: now)) }
            at = max(at, limiter.tokens.earliest(head.tokens, now: now))
            guard at > now + 1e-9 else { continue }  // Grantable now: the caller's grant handles it.
            earliest = min(earliest ?? at, at)
        }
        return earliest
    }

    private func headWaiter(_ limiter: Limiter) -> Waiter? {
        for priority in Priority.allCases {
            guard var lane = limiter.lanes[priority] else { continue }
            if let id = lane.peek(isLive: { waiters[$0] != nil }), let waiter = waiters[id] { return waiter }
        }
        return nil
    }

    private static func grant(_ limiter: inout Limiter, waiters: inout [UInt64: Waiter], now: Double) -> [UInt64] {
        var granted: [UInt64] = []
        admit: while limiter.inFlight < limiter.settings.concurrency, now >= limiter.cooldownUntil {
            for priority in Priority.allCases {
                guard var lane = limiter.lanes[priority] else { continue }
                guard let id = lane.peek(isLive: { waiters[$0] != nil }), let waiter = waiters[id] else {
                    limiter.lanes[priority] = nil
                    continue
                }
                // The head of the highest priority waits for time: nothing overtakes it, so a
                // large request is never starved by small ones.
                guard limiter.isDue(waiter.tokens, now: now) else { limiter.lanes[priority] = lane; break admit }
                lane.commit()
                limiter.lanes[priority] = lane.isEmpty ? nil : lane
                waiters[id] = nil
                limiter.start(waiter.tokens, now: now)
                granted.append(id)
                continue admit
            }
            break
        }
        return granted
    }

    /// Gauges per limiter (for `stats`).
    func snapshot(now: Double) -> [String: Snapshot] {
        var queued: [String: Int] = [:]
        for waiter in waiters.values { queued[waiter.limiter, default: 0] += 1 }
        var result: [String: Snapshot] = [:]
        for (name, limiter) in limiters {
            result[name] = Snapshot(
                inFlight: limiter.inFlight,
                queued: queued[name] ?? 0,
                settings: limiter.settings,
                requestsAvailable: limiter.requests?.available(now: now),
                tokensAvailable: limiter.tokens.available(now: now),
                learnedRPM: limiter.settings.rpm == nil ? limiter.requests.map { Int((60 / $0.interval).rounded()) } : nil,
                learnedTPM: limiter.settings.tpm == nil ? limiter.tokens.total.map { Int($0.capacity) } : nil,
                cooldownSeconds: max(0, limiter.cooldownUntil - now)
            )
        }
        return result
    }
}

/// What a response's rate-limit headers say (OpenAI `x-ratelimit-*`, Anthropic
/// `anthropic-ratelimit-*`).
public struct RateLimitState: Sendable, Hashable {
    public var requestsRemaining: Int?
    public var requestsResetSeconds: Double?
    public var tokensRemaining: Int?
    public var tokensResetSeconds: Double?
    /// Anthropic's separate input and output token budgets.
    public var inputTokensRemaining: Int?
    public var outputTokensRemaining: Int?
    /// The limits themselves (per minute), as the provider states them.
    public var requestsLimit: Int?
    public var tokensLimit: Int?
    public var inputTokensLimit: Int?
    public var outputTokensLimit: Int?

    public init(requestsRemaining: Int? = nil, requestsResetSeconds: Double? = nil,
                tokensRemaining: Int? = nil, tokensResetSeconds: Double? = nil,
                inputTokensRemaining: Int? = nil, outputTokensRemaining: Int? = nil) {
        self.requestsRemaining = requestsRemaining
        self.requestsResetSeconds = requestsResetSeconds
        self.tokensRemaining = tokensRemaining
        self.tokensResetSeconds = tokensResetSeconds
        self.inputTokensRemaining = inputTokensRemaining
        self.outputTokensRemaining = outputTokensRemaining
    }

    public var isEmpty: Bool {
        requestsRemaining == nil && tokensRemaining == nil && inputTokensRemaining == nil && outputTokensRemaining == nil
            && requestsLimit == nil && tokensLimit == nil && inputTokensLimit == nil && outputTokensLimit == nil
    }
}

/// A FIFO queue with amortised O(1) push and pop.
struct Queue<Element> {
    private var storage: [Element] = []
    private var head = 0

    var isEmpty: Bool { head >= storage.count }
    var count: Int { storage.count - head }

    func peek() -> Element? { head < storage.count ? storage[head] : nil }

    mutating func push(_ element: Element) {
        storage.append(element)
    }

    mutating func pop() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        head += 1
        if head > 64, head * 2 > storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }
}
