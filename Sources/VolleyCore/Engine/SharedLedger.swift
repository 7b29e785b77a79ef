import VolleyRedis

/// What a sidecar owes Redis and holds from it, between round trips: the state machine behind
/// `SharedLimits`, a value type driven by the caller's clock (seconds) so every decision is
/// tested in virtual time (`SharedLedgerTests`).
///
/// - **Leases.** Each shared limiter keeps a few permits taken from Redis ahead of need (about
///   20 ms of its rate, at most half its burst: none at a few requests a second, up to 256 at
///   tens of thousands), so most
///   attempts take a permit here, with no round trip and no thread hop. Every leased permit
///   was granted by the script, so the sum over all sidecars stays within the limit; one
///   unused `SharedLease.lifetime` (50 ms) after its grant goes back, so another machine's
///   429 reaches this sidecar within that. A permit reserves the tokens of the
///   largest recent reservation; what an attempt does not need of it goes back.
/// - **Waiters.** An attempt that finds no permit that fits waits for the next round trip,
///   which asks for the waiters' permits, in order, and the lease's refill after them.
/// - **Merged.** Refunds are summed per limiter, header syncs merged (the least remaining
///   wins), and sent with the next round trip, at most `flushSeconds` later; a cooldown (a
///   429) goes at once, and drops the limiter's lease.
struct SharedLedger<Waiter> {
    /// One limiter: its id in Redis (`LimiterIdentity.sharedID`) and its buckets.
    struct Limiter: Hashable, Sendable {
        var id: String
        var buckets: SharedBuckets
    }

    /// The operations of one round trip, and who each acquire answers.
    struct Round {
        var operations: [SharedLimitOperation] = []
        /// Per operation, for acquires: its limiter, the waiters it answers in permit order,
        /// and the tokens of each permit after theirs (the lease's refill).
        var acquires: [Acquire?] = []
    }

    struct Acquire {
        var limiter: Limiter
        var waiters: [Waiter]
        var leaseTokens: TokenCount
    }

    /// Longest a refund or a header sync waits for a round trip.
    static var flushSeconds: Double { 0.02 }

    private(set) var leases: [Limiter: SharedLease] = [:]
    private var refunds: [Limiter: (requests: Double, tokens: TokenCount)] = [:]
    private var syncs: [Limiter: RateLimitState] = [:]
    private var cooldowns: [(Limiter, Double)] = []
    private var waiters: [Limiter: [(tokens: TokenCount, waiter: Waiter)]] = [:]
    /// Limiters whose lease is low, in the order they asked.
    private var refills: [Limiter] = []
    /// Limiters in the order they first had work this round (a stable order for the operations).
    private var order: [Limiter] = []
    private var noted: Set<Limiter> = []
    /// Since when refunds or syncs wait to be sent.
    private var owingSince: Double?

    /// Whether a round trip is due now (waiters, refills, cooldowns): the worker wakes for them.
    var isUrgent: Bool { !waiters.isEmpty || !refills.isEmpty || !cooldowns.isEmpty }

    /// When the worker must wake at the latest with nothing urgent: to flush refunds and syncs,
    /// or to give back an idle lease. Nil: nothing to do until something arrives.
    var nextDeadline: Double? {
        let flush = owingSince.map { $0 + Self.flushSeconds }
        let idle = leases.values.compactMap { $0.oldestGrant.map { $0 + SharedLease.lifetime } }.min()
        switch (flush, idle) {
        case let (flush?, idle?): return min(flush, idle)
        case let (flush?, nil): return flush
        case let (nil, idle): return idle
        }
    }

    /// A permit from `limiter`'s lease for an attempt reserving `tokens`, if one that fits is
    /// held. Returns the permit's wait (0: now) and whether the worker must be woken (a refill,
    /// or a flush window begun).
    mutating func take(_ limiter: Limiter, tokens: TokenCount, now: Double) -> (wait: Double?, wake: Bool) {
        // In place: a copy of the lease would copy its permits.
        let (permit, refill, expired) = leases[limiter, default: SharedLease(limiter.buckets, tokens: tokens)].take(tokens, now: now)
        var wake = false
        if expired.requests > 0, owe(limiter, requests: Double(expired.requests), tokens: expired.tokens, now: now) { wake = true }
        if let permit {
            let left = TokenCount(input: permit.tokens.input - tokens.input, output: permit.tokens.output - tokens.output)
            if left != .zero { wake = owe(limiter, requests: 0, tokens: left, now: now) }
        }
        if refill {
            note(limiter)
            refills.append(limiter)
            wake = true
        }
        return (permit.map { max(0, $0.start - now) }, wake)
    }

    /// An attempt that found no permit waits for the next round trip.
    mutating func wait(_ limiter: Limiter, tokens: TokenCount, _ waiter: Waiter) {
        note(limiter)
        waiters[limiter, default: []].append((tokens, waiter))
    }

    /// Units back to Redis (negative tokens: charged on top), sent with the next round trip.
    /// Returns true when it starts a flush window: the worker must wake to set its timer.
    @discardableResult
    mutating func refund(_ limiter: Limiter, requests: Double, tokens: TokenCount, now: Double) -> Bool {
        owe(limiter, requests: requests, tokens: tokens, now: now)
    }

    /// What the provider's headers say remains, sent with the next round trip. Returns true
    /// when it starts a flush window.
    @discardableResult
    mutating func sync(_ limiter: Limiter, _ headers: RateLimitState, now: Double) -> Bool {
        note(limiter)
        syncs[limiter] = syncs[limiter].map { $0.leastRemaining(headers) } ?? headers
        defer { if owingSince == nil { owingSince = now } }
        return owingSince == nil
    }

    /// A 429: every machine pauses `seconds`, and the permits this sidecar holds go back (they
    /// were taken before the server said no).
    mutating func cooldown(_ limiter: Limiter, seconds: Double, now: Double) {
        note(limiter)
        cooldowns.append((limiter, seconds))
        returnLease(limiter, now: now)
    }

    /// Everything due, as one round trip's operations: refunds (with idle leases given back),
    /// cooldowns, syncs, then per limiter one acquire for its waiters and its lease's refill;
    /// keys under `prefix`.
    mutating func round(now: Double, prefix: String, caller: String, reserveAhead: Double) -> Round {
        for limiter in leases.keys {
            let expired = leases[limiter]?.expire(now: now) ?? (0, .zero)
            if expired.requests > 0 { owe(limiter, requests: Double(expired.requests), tokens: expired.tokens, now: now) }
        }
        var round = Round()
        var keys: [String: SharedLimiterKeys] = [:]
        func keysOf(_ limiter: Limiter) -> SharedLimiterKeys {
            if let known = keys[limiter.id] { return known }
            let made = SharedLimiterKeys(prefix: prefix, limiter: limiter.id)
            keys[limiter.id] = made
            return made
        }
        func add(_ operation: SharedLimitOperation, _ acquire: Acquire? = nil) {
            round.operations.append(operation)
            round.acquires.append(acquire)
        }
        for limiter in order {
            guard let sum = refunds[limiter], sum.requests != 0 || sum.tokens != .zero else { continue }
            add(.refund(keysOf(limiter), requests: sum.requests,
                        tokens: (Double(sum.tokens.total), Double(sum.tokens.input), Double(sum.tokens.output)), limiter.buckets))
        }
        for (limiter, seconds) in cooldowns { add(.cooldown(keysOf(limiter), seconds: seconds, limiter.buckets, caller: caller)) }
        for limiter in order {
            guard let headers = syncs[limiter] else { continue }
            add(.sync(keysOf(limiter), remaining: (headers.requestsRemaining, headers.tokensRemaining,
                                                headers.inputTokensRemaining, headers.outputTokensRemaining), limiter.buckets))
        }
        for limiter in order {
            let waiting = waiters[limiter] ?? []
            guard !waiting.isEmpty || refills.contains(limiter) else { continue }
            var lease = leases[limiter] ?? SharedLease(limiter.buckets, tokens: waiting.first?.tokens ?? .zero)
            if let largest = waiting.map(\.tokens).max(by: { $0.total < $1.total }) { lease.resize(tokens: largest) }
            let extra = lease.deficit
            lease.refilling = extra > 0
            leases[limiter] = lease
            guard !waiting.isEmpty || extra > 0 else { continue }
            let permits = waiting.map { PermitTokens($0.tokens) } + Array(repeating: PermitTokens(lease.tokens), count: extra)
            add(.acquire(keysOf(limiter), permits: permits, limiter.buckets, reserveAhead: reserveAhead, caller: caller),
                Acquire(limiter: limiter, waiters: waiting.map(\.waiter), leaseTokens: lease.tokens))
        }
        refunds = [:]
        syncs = [:]
        cooldowns = []
        waiters = [:]
        refills = []
        order = []
        noted = []
        owingSince = nil
        return round
    }

    /// An acquire's grant: its waiters' answers, in order; the permits after theirs go to the
    /// lease, each starting `start` seconds after `now`.
    mutating func granted(_ grant: SharedGrant, _ acquire: Acquire, now: Double) -> [(Waiter, SharedAnswer)] {
        let waiters = acquire.waiters
        var answers: [(Waiter, SharedAnswer)] = []
        for (index, waiter) in waiters.enumerated() {
            if index < grant.granted {
                let start = grant.starts[index]
                answers.append((waiter, start > 0 ? .grantedAfter(start) : .granted))
            } else {
                answers.append((waiter, grant.othersCooldown ? .othersCooldown(grant.retryAfter) : .wait(grant.retryAfter)))
            }
        }
        if var lease = leases[acquire.limiter] {
            lease.add(starts: grant.starts.dropFirst(waiters.count).map { now + $0 }, tokens: acquire.leaseTokens, now: now)
            lease.refilling = false
            leases[acquire.limiter] = lease
        }
        return answers
    }

    /// One acquire the script could not answer (an error, an unreadable reply): its waiters,
    /// to be answered `.unavailable`; the lease may ask for a refill again.
    mutating func refused(_ acquire: Acquire) -> [Waiter] {
        leases[acquire.limiter]?.refilling = false
        return acquire.waiters
    }

    /// The round trip failed (Redis unreachable): every waiter of it is
    /// answered `.unavailable`, and leases are dropped (their permits cannot be given back).
    mutating func failed(_ round: Round) -> [Waiter] {
        leases = [:]
        return round.acquires.flatMap { $0?.waiters ?? [] }
    }

    /// Everything still waiting (at stop), to be answered `.unavailable`.
    mutating func drain() -> [Waiter] {
        defer { waiters = [:] }
        return waiters.values.flatMap { $0.map(\.waiter) }
    }

    /// Forgets every lease and debt (Redis went away: nothing can be sent).
    mutating func forget() {
        leases = [:]
        refunds = [:]
        syncs = [:]
        cooldowns = []
        refills = []
        owingSince = nil
        order = order.filter { waiters[$0] != nil }
        noted = Set(order)
    }

    private mutating func returnLease(_ limiter: Limiter, now: Double) {
        guard var lease = leases[limiter] else { return }
        let back = lease.returnAll()
        leases[limiter] = lease
        if back.requests > 0 { owe(limiter, requests: Double(back.requests), tokens: back.tokens, now: now) }
    }

    @discardableResult
    private mutating func owe(_ limiter: Limiter, requests: Double, tokens: TokenCount, now: Double) -> Bool {
        note(limiter)
        func add(_ sum: inout (requests: Double, tokens: TokenCount)) {
            sum.requests += requests
            sum.tokens.input += tokens.input
            sum.tokens.output += tokens.output
        }
        add(&refunds[limiter, default: (0, .zero)])
        defer { if owingSince == nil { owingSince = now } }
        return owingSince == nil
    }

    private mutating func note(_ limiter: Limiter) {
        if noted.insert(limiter).inserted { order.append(limiter) }
    }
}

/// What an attempt gets from the shared limits.
enum SharedAnswer: Sendable, Equatable {
    case granted
    /// Reserved: the attempt may start after this long (its slot is held meanwhile).
    case grantedAfter(Double)
    /// The limiter is full for every machine: try again after this long.
    case wait(Double)
    /// Another machine's 429 paused every machine on the key for this long: for the adaptive
    /// controller, a refusal like one of its own.
    case othersCooldown(Double)
    /// Redis cannot be used now.
    case unavailable
}

/// The permits one limiter holds from Redis, in start order.
struct SharedLease: Sendable, Equatable {
    struct Permit: Sendable, Equatable {
        /// When it may be used (the caller's clock).
        var start: Double
        var tokens: TokenCount
        var grantedAt: Double
    }

    /// A leased permit not used this long after it was granted goes back: a cooldown another
    /// machine set meanwhile reaches this sidecar no later than that.
    static let lifetime = 0.05
    /// How much of the limiter's rate a lease holds.
    static let rateSeconds = 0.02
    static let largest = 256

    let buckets: SharedBuckets
    /// Most permits held.
    private(set) var size: Int
    /// The tokens each leased permit reserves.
    private(set) var tokens: TokenCount
    private var permits: [Permit] = []
    private var head = 0
    /// A refill is asked for and not answered yet.
    var refilling = false

    init(_ buckets: SharedBuckets, tokens: TokenCount) {
        self.buckets = buckets
        self.tokens = tokens
        size = Self.size(buckets, tokens: tokens)
    }

    /// When the oldest permit held was granted.
    var oldestGrant: Double? { head < permits.count ? permits[head].grantedAt : nil }

    var available: Int { permits.count - head }

    /// Permits to ask for to be full again.
    var deficit: Int { max(0, size - available) }

    /// Low (half empty or worse) with no refill asked for.
    var needsRefill: Bool { size > 0 && !refilling && available <= size / 2 }

    /// About `rateSeconds` of the limiter's rate at `tokens` a permit, at most half of every
    /// bucket's burst and `largest`; 0 (no lease) under 2. A leased permit may be used a little
    /// after its slot, bunched with others' on-time ones: within half the burst the server's
    /// tolerance absorbs that, and below 2 a lease would save no round trip worth the risk (a
    /// few requests a second, burst 1: each attempt asks for its own slot and starts on it).
    static func size(_ buckets: SharedBuckets, tokens: TokenCount) -> Int {
        var limit = Double(largest)
        func bound(_ bucket: SharedBucket?, cost: Int) {
            guard let bucket, cost > 0 else { return }
            limit = min(limit, bucket.perMinute / 60 * rateSeconds / Double(cost), bucket.burst / 2 / Double(cost))
        }
        bound(buckets.requests, cost: 1)
        bound(buckets.tokens, cost: tokens.total)
        bound(buckets.inputTokens, cost: tokens.input)
        bound(buckets.outputTokens, cost: tokens.output)
        let size = Int(limit.rounded(.down))
        return size >= 2 ? size : 0
    }

    /// Leased permits from now on reserve `tokens` when that is more than they did.
    mutating func resize(tokens new: TokenCount) {
        guard new.total > tokens.total || new.input > tokens.input || new.output > tokens.output else { return }
        tokens = TokenCount(input: max(tokens.input, new.input), output: max(tokens.output, new.output))
        size = Self.size(buckets, tokens: tokens)
    }

    /// The next permit if it holds enough tokens for `reservation` (none overtakes another),
    /// and whether the lease, now low, asks for a refill (it is marked refilling).
    /// Permits past their lifetime are dropped first (`expired`: what goes back to Redis).
    mutating func take(_ reservation: TokenCount, now: Double) -> (Permit?, refill: Bool, expired: (requests: Int, tokens: TokenCount)) {
        let expired = expire(now: now)
        let permit = next(reservation, now: now)
        guard needsRefill else { return (permit, false, expired) }
        refilling = true
        return (permit, true, expired)
    }

    /// Drops the permits granted more than `lifetime` before `now`; returns what they held.
    mutating func expire(now: Double) -> (requests: Int, tokens: TokenCount) {
        var count = 0
        var tokens = TokenCount.zero
        while head < permits.count, now - permits[head].grantedAt > Self.lifetime {
            count += 1
            tokens.input += permits[head].tokens.input
            tokens.output += permits[head].tokens.output
            head += 1
        }
        if head == permits.count, head > 0 {
            permits.removeAll(keepingCapacity: true)
            head = 0
        }
        return (count, tokens)
    }

    private mutating func next(_ reservation: TokenCount, now: Double) -> Permit? {
        guard head < permits.count else { return nil }
        let permit = permits[head]
        guard permit.tokens.input >= reservation.input, permit.tokens.output >= reservation.output else {
            resize(tokens: reservation)
            return nil
        }
        head += 1
        if head == permits.count {
            permits.removeAll(keepingCapacity: true)
            head = 0
        }
        return permit
    }

    /// Permits granted, each reserving `tokens` (what was asked for them).
    mutating func add(starts: [Double], tokens: TokenCount, now: Double) {
        permits.append(contentsOf: starts.map { Permit(start: $0, tokens: tokens, grantedAt: now) })
    }

    /// Every permit held, emptied: what goes back to Redis.
    mutating func returnAll() -> (requests: Int, tokens: TokenCount) {
        let held = permits[head...]
        let tokens = held.reduce(TokenCount.zero) { TokenCount(input: $0.input + $1.tokens.input, output: $0.output + $1.tokens.output) }
        let count = held.count
        permits.removeAll(keepingCapacity: true)
        head = 0
        return (count, tokens)
    }
}

extension PermitTokens {
    init(_ tokens: TokenCount) {
        self.init(total: tokens.total, input: tokens.input, output: tokens.output)
    }
}

extension RateLimitState {
    /// The least remaining of each budget either says (nil where neither does).
    func leastRemaining(_ other: RateLimitState) -> RateLimitState {
        func least(_ a: Int?, _ b: Int?) -> Int? { a.map { a in b.map { min(a, $0) } ?? a } ?? b }
        var merged = self
        merged.requestsRemaining = least(requestsRemaining, other.requestsRemaining)
        merged.tokensRemaining = least(tokensRemaining, other.tokensRemaining)
        merged.inputTokensRemaining = least(inputTokensRemaining, other.inputTokensRemaining)
        merged.outputTokensRemaining = least(outputTokensRemaining, other.outputTokensRemaining)
        return merged
    }
}

extension SharedLedger.Round: Sendable where Waiter: Sendable {}
extension SharedLedger.Acquire: Sendable where Waiter: Sendable {}
