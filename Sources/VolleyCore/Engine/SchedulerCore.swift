import HeapModule

/// Admission of attempts to providers. Per limiter (one per API origin, key and model; see
/// `LimiterTable`): a concurrency permit, requests per second (GCRA), tokens per minute
/// (reserve, then reconcile), a cooldown after a 429, and an `AdaptiveLimit` that corrects
/// rate and concurrency from the server's refusals. Between batches: interactive before background,
/// and round-robin among the batches of one priority so a huge batch never starves a small
/// one. Waiters may carry a deadline: past it they expire instead of being granted.
///
/// Pure value type: every call takes `now` (seconds, monotonic) and returns what it decided:
/// the waiters granted, with their tickets, and the waiters expired. The caller resumes them,
/// and calls `poll` at `nextWake`.
struct SchedulerCore {
    struct Waiter {
        var id: UInt64
        var batch: UInt64
        /// The host connection (engine session) the batch belongs to: lanes rotate between
        /// connections first, and a connection can be paused on its own.
        var connection: UInt64 = 0
        var priority: Priority
        var limiter: String
        /// Estimated tokens this attempt reserves (zero without a token limit).
        var tokens: TokenCount
        /// Past this time the waiter expires (the item's deadline, or its wait budget).
        var deadline: Double? = nil
    }

    typealias Ticket = AdaptiveLimit.Ticket

    /// A waiter granted its permit.
    struct Grant: Sendable, Equatable {
        var id: UInt64
        var ticket: Ticket
    }

    /// What time did: waiters granted, and waiters whose deadline passed first.
    struct Actions: Sendable, Equatable {
        var granted: [Grant] = []
        var expired: [UInt64] = []
    }

    /// How an attempt ended, as the limiter counts it.
    enum Verdict: Sendable, Equatable {
        /// The server answered it (`clean`: a first attempt that succeeded).
        case accepted(clean: Bool)
        /// The server refused it: 429, or overloaded.
        case refused(AdaptiveLimit.Refusal)
        /// Anything else (a connection error, a 400, a cancellation): says nothing about limits.
        case other
    }

    /// A request can never be admitted: its estimate exceeds a whole minute's token budget.
    struct TooLarge: Error, Equatable {
        var tokens: Int
        var tpm: Int
    }

    /// Gauges of one limiter.
    /// A waiter's deadline, ordered for the expiry heap.
    private struct Expiry: Comparable {
        var at: Double
        var id: UInt64
        static func < (a: Expiry, b: Expiry) -> Bool { a.at < b.at || (a.at == b.at && a.id < b.id) }
    }

    private(set) var limiters: [String: Limiter] = [:]
    private(set) var waiters: [UInt64: Waiter] = [:]
    /// Limits the controller changed since the caller last took them (for the logs).
    private(set) var changes: [LimitChange] = []
    /// Deadlines of waiters (lazily pruned: granted or cancelled ones are skipped).
    private var expiries = Heap<Expiry>()
    /// Connections whose host stopped reading: their waiters are granted nothing until
    /// resumed (the other connections' go on).
    private(set) var pausedConnections: Set<UInt64> = []

    /// Adds a waiter under `settings` (which create or update its limiter) and returns the
    /// waiters granted now; fails at once when the request can never fit.
    mutating func enqueue(_ waiter: Waiter, settings: LimiterSettings, now: Double) -> Result<[Grant], TooLarge> {
        admit(waiter, settings: settings, now: now).map { admission in
            switch admission {
            case .startedAtOnce(let ticket): return [Grant(id: waiter.id, ticket: ticket)]
            case .queued(let granted): return granted
            }
        }
    }

    /// What `admit` did with a waiter.
    enum Admission: Equatable {
        /// It was first in line and could start: granted without being queued.
        case startedAtOnce(Ticket)
        /// It was queued; these waiters (maybe it among them) were granted as a result.
        case queued(granted: [Grant])
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
        if let tooLarge = Self.peek(&limiters.values[index], { $0.tokens.neverFits(waiter.tokens) }) {
            return .failure(TooLarge(tokens: tooLarge.tokens, tpm: tooLarge.limit))
        }
        // Fast path: nobody waits on this limiter, so the newcomer is first in line; when it
        // can start now it is granted without being queued (the same decision `grant` makes).
        if Self.peek(&limiters.values[index], { $0.lanes.isEmpty }),
           pausedConnections.isEmpty || !pausedConnections.contains(waiter.connection),
           Self.peek(&limiters.values[index], { $0.canStart(waiter.tokens, now: now) }) {
            return .success(.startedAtOnce(limiters.values[index].start(waiter.tokens, now: now)))
        }
        waiters[waiter.id] = waiter
        if let deadline = waiter.deadline { expiries.insert(Expiry(at: deadline, id: waiter.id)) }
        limiters.values[index].lanes[waiter.priority, default: Lane()].push(waiter.id, batch: waiter.batch, connection: waiter.connection)
        return .success(.queued(granted: grant(at: index, now: now)))
    }

    /// Removes a waiter that has not been granted. False when it was not waiting.
    mutating func cancel(_ id: UInt64) -> Bool {
        waiters.removeValue(forKey: id) != nil  // Lazily dropped from its lane and the heap.
    }

    /// An attempt granted earlier ended. `reservedTokens` is what it reserved; `usedTokens`
    /// the usage the provider reported (nil when unknown). A refused attempt gets its whole
    /// reservation back (the server did not charge it) and teaches the controller.
    /// `random` (0..<1) jitters a cooldown.
    mutating func release(limiter name: String, ticket: Ticket, verdict: Verdict, reservedTokens: TokenCount,
                          usedTokens: TokenCount?, random: Double = 0, now: Double) -> [Grant] {
        guard let index = limiters.index(forKey: name) else { return [] }
        limiters.values[index].inFlight -= 1
        let before = Self.peek(&limiters.values[index]) { ($0.control.rate, $0.control.window, $0.control.tokenScale) }
        defer { noteChange(at: index, name: name, from: before, verdict: verdict) }
        switch verdict {
        case .refused(let refusal):
            limiters.values[index].tokens.give(reservedTokens, now: now)
            let (settings, backlog) = Self.peek(&limiters.values[index]) { ($0.settings, !$0.lanes.isEmpty) }
            limiters.values[index].control.refused(ticket, refusal, backlog: backlog, maxRetryAfter: settings.maxRetryAfter,
                                                   barePause: settings.barePause, random: random, now: now)
        case .accepted(let clean):
            reconcile(&limiters.values[index], reserved: reservedTokens, used: usedTokens, now: now)
            let backlog = Self.peek(&limiters.values[index]) { !$0.lanes.isEmpty }
            limiters.values[index].control.accepted(ticket, clean: clean, backlog: backlog, now: now)
        case .other:
            reconcile(&limiters.values[index], reserved: reservedTokens, used: usedTokens, now: now)
        }
        limiters.values[index].syncRate(now: now)
        if Self.peek(&limiters.values[index], { $0.lanes.isEmpty }) { return [] }
        return grant(at: index, now: now)
    }

    private mutating func noteChange(at index: Dictionary<String, Limiter>.Index, name: String,
                                     from before: (Double?, Int, Double), verdict: Verdict) {
        let control = Self.peek(&limiters.values[index]) { $0.control }
        guard control.window != before.1 || control.rate != before.0 || control.tokenScale != before.2 else { return }
        // Climbs are small and many: note them only when they cross a whole request per minute
        // or a tenth of the token budget.
        if case .accepted = verdict, control.window == before.1,
           Int((before.0 ?? 0) * 60) == Int((control.rate ?? 0) * 60),
           Int(before.2 * 10) == Int(control.tokenScale * 10) { return }
        if changes.count < 64 {
            let tpm = limiters.values[index].tokens.total.map { $0.perSecond * 60 }
            let cause: LimitChange.Cause
            if case .refused = verdict { cause = .refused } else { cause = .recovered }
            changes.append(LimitChange(limiter: name, rpm: control.rate.map { $0 * 60 }, tpm: tpm,
                                       concurrency: control.window, cause: cause))
        }
    }

    /// Hands over the changes noted since the last call.
    mutating func takeChanges() -> [LimitChange] {
        defer { changes.removeAll(keepingCapacity: true) }
        return changes
    }

    private func reconcile(_ limiter: inout Limiter, reserved: TokenCount, used: TokenCount?, now: Double) {
        guard let used else { return }
        // Without refunds only an under-estimate is corrected (the server charged more).
        let counted = limiter.settings.refundsUnusedTokens ? used
            : TokenCount(input: max(used.input, reserved.input), output: max(used.output, reserved.output))
        limiter.tokens.reconcile(reserved: reserved, used: counted, now: now)
    }

    /// Re-syncs the buckets from the provider's rate-limit headers. A limit the configuration
    /// leaves unset is learned from the headers' `limit` fields (`x-ratelimit-limit-*`,
    /// `anthropic-ratelimit-*-limit`), so an unconfigured provider still gets paced.
    mutating func sync(limiter name: String, _ state: RateLimitState, now: Double) {
        guard let index = limiters.index(forKey: name) else { return }
        let settings = Self.peek(&limiters.values[index]) { $0.settings }
        var learned = false
        if settings.rpm == nil, let limit = state.requestsLimit, limit > 0,
           Self.peek(&limiters.values[index], { $0.control.ceilingRate }).map({ abs($0 * 60 - Double(limit)) > 0.5 }) ?? true {
            limiters.values[index].control.learn(rpm: limit)
            limiters.values[index].syncRate(now: now)
            learned = true
        }
        if Self.peek(&limiters.values[index], { $0.tokens.total == nil }), settings.tpm == nil, let limit = state.tokensLimit, limit > 0 {
            limiters.values[index].tokens.total = TokenRate(tpm: limit, now: now)
            learned = true
        }
        if Self.peek(&limiters.values[index], { $0.tokens.input == nil }), settings.itpm == nil, let limit = state.inputTokensLimit, limit > 0 {
            limiters.values[index].tokens.input = TokenRate(tpm: limit, now: now)
            learned = true
        }
        if Self.peek(&limiters.values[index], { $0.tokens.output == nil }), settings.otpm == nil, let limit = state.outputTokensLimit, limit > 0 {
            limiters.values[index].tokens.output = TokenRate(tpm: limit, now: now)
            learned = true
        }
        if let remaining = state.requestsRemaining {
            limiters.values[index].requests?.sync(remaining: remaining, resetSeconds: state.requestsResetSeconds, now: now)
        }
        limiters.values[index].tokens.sync(state, now: now)
        if learned, changes.count < 64 {
            let limiter = limiters.values[index]
            changes.append(LimitChange(limiter: name, rpm: limiter.control.rate.map { $0 * 60 },
                                       tpm: limiter.tokens.total.map { $0.perSecond * 60 },
                                       concurrency: limiter.control.window, cause: .learned))
        }
    }

    /// Applies new settings to limiter `name` (the hosts sharing it changed), if it exists, and
    /// grants what they let start.
    mutating func update(limiter name: String, settings: LimiterSettings, now: Double) -> [Grant] {
        guard let index = limiters.index(forKey: name) else { return [] }
        limiters.values[index].update(settings, now: now)
        return Self.peek(&limiters.values[index], { $0.lanes.isEmpty }) ? [] : grant(at: index, now: now)
    }

    /// Stops (true) or resumes (false) granting to `connection`'s waiters; resuming grants
    /// what can start.
    mutating func setPaused(_ paused: Bool, connection: UInt64, now: Double) -> [Grant] {
        if paused {
            pausedConnections.insert(connection)
            return []
        }
        guard pausedConnections.remove(connection) != nil else { return [] }
        return poll(now: now).granted
    }

    /// Grants what time has made possible, then expires the waiters whose deadline passed
    /// (call at `nextWake`). Granting first: a waiter whose turn comes exactly at its deadline
    /// has waited no longer than it may, and starts.
    mutating func poll(now: Double) -> Actions {
        var actions = Actions()
        for index in limiters.indices where !Self.peek(&limiters.values[index], { $0.lanes.isEmpty }) {
            actions.granted += grant(at: index, now: now)
        }
        while let first = expiries.min, first.at <= now + 1e-9 {
            _ = expiries.removeMin()
            if waiters.removeValue(forKey: first.id) != nil { actions.expired.append(first.id) }
        }
        return actions
    }

    /// Reads limiter `limiter` where it is. `limiters.values[index].part` goes through the
    /// dictionary's getter, which copies the whole `Limiter` out first (a retain and a release
    /// of each of its parts: `initializeWithCopy for SchedulerCore.Limiter` in the profiles);
    /// an `inout` access does not.
    private static func peek<T>(_ limiter: inout Limiter, _ read: (Limiter) -> T) -> T {
        read(limiter)
    }

    /// The earliest time a waiting request could be granted or expires, if waiting on time.
    mutating func nextWake(now: Double) -> Double? {
        // Called after every release: with nobody waiting (the common case at full speed) there
        // is nothing to wake for, and no limiter needs copying out to look at.
        guard !waiters.isEmpty else {
            if !expiries.isEmpty { expiries = Heap() }
            return nil
        }
        while let first = expiries.min, waiters[first.id] == nil { _ = expiries.removeMin() }
        var earliest = expiries.min?.at
        for index in limiters.indices where !Self.peek(&limiters.values[index], { $0.lanes.isEmpty }) {
            // In place: a limiter copied out of the dictionary costs a retain of each of its
            // parts (the W1 profile showed `initializeWithCopy for SchedulerCore.Limiter`).
            if let at = Self.wake(of: &limiters.values[index], waiters: waiters, paused: pausedConnections, now: now) {
                earliest = min(earliest ?? at, at)
            }
        }
        return earliest
    }

    /// When `limiter` could grant its head waiter later than `now`: its window growing (when
    /// full, in slow start) or its cooldown, rate or tokens; nil when nobody waits on time
    /// (none waiting, all paused, a release will grant, or grantable now, which the caller's
    /// grant handles).
    private static func wake(of limiter: inout Limiter, waiters: [UInt64: Waiter], paused: Set<UInt64>,
                             now: Double) -> Double? {
        guard let head = headWaiter(&limiter, waiters: waiters, paused: paused) else { return nil }
        guard limiter.control.hasRoom(inFlight: limiter.inFlight, now: now) else {
            // Full: a release grants, or, in slow start, the window growing with time.
            return limiter.control.nextWindowGrowth(now: now)
        }
        var at = max(now, limiter.control.cooldownUntil)
        if let requests = limiter.requests { at = max(at, requests.earliest(now: now)) }
        at = max(at, limiter.tokens.earliest(head.tokens, now: now))
        return at > now + 1e-9 ? at : nil
    }

    /// The first waiter a grant would take (nil when all are paused).
    private static func headWaiter(_ limiter: inout Limiter, waiters: [UInt64: Waiter], paused: Set<UInt64>) -> Waiter? {
        for priority in Priority.allCases {
            guard var lane = limiter.lanes[priority] else { continue }
            if let id = lane.peek(isLive: { waiters[$0] != nil }, isPaused: { paused.contains($0) }),
               let waiter = waiters[id] { return waiter }
        }
        return nil
    }

    private mutating func grant(at index: Dictionary<String, Limiter>.Index, now: Double) -> [Grant] {
        Self.grant(&limiters.values[index], waiters: &waiters, paused: pausedConnections, now: now)
    }

    private static func grant(_ limiter: inout Limiter, waiters: inout [UInt64: Waiter], paused: Set<UInt64>,
                              now: Double) -> [Grant] {
        var granted: [Grant] = []
        admit: while limiter.control.hasRoom(inFlight: limiter.inFlight, now: now), now >= limiter.control.cooldownUntil {
            for priority in Priority.allCases {
                // Taken out, not copied: a copy would share its queues' storage with the one
                // left in the dictionary, and the first pop would copy a whole queue.
                guard var lane = limiter.lanes.removeValue(forKey: priority) else { continue }
                let head = lane.peek(isLive: { waiters[$0] != nil }, isPaused: { !paused.isEmpty && paused.contains($0) })
                guard let id = head, let waiter = waiters[id] else {
                    // Empty, or every connection left in it is paused: the next priority's turn.
                    if !lane.isEmpty { limiter.lanes[priority] = lane }
                    continue
                }
                // The head of the highest priority waits for time: nothing overtakes it, so a
                // large request is never starved by small ones.
                guard limiter.isDue(waiter.tokens, now: now) else { limiter.lanes[priority] = lane; break admit }
                lane.commit()
                limiter.lanes[priority] = lane.isEmpty ? nil : lane
                waiters[id] = nil
                granted.append(Grant(id: id, ticket: limiter.start(waiter.tokens, now: now)))
                continue admit
            }
            break
        }
        return granted
    }

    /// The controller of a limiter, for tests and logs.
    func control(of name: String) -> AdaptiveLimit? { limiters[name]?.control }

}
