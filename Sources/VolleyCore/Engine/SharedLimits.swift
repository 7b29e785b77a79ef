import Dispatch
import Logging
import Synchronization
import VolleyRedis
import VolleySystem

/// Where limits shared across machines live and what to do without them (`shared_limits` in a
/// `--config` file, `--redis-url`, `VOLLEY_REDIS_URL`; docs/protocol.md, "Shared limits").
public struct SharedLimitsSettings: Sendable, Equatable {
    public enum OnUnavailable: String, Sendable {
        /// Go on with the local limiter alone, at `localFraction` of the limits.
        case local
        /// End waiting items with `shared_limits_unavailable`.
        case fail
    }

    public var url: RedisURL
    public var keyPrefix = "volley"
    public var onUnavailable = OnUnavailable.local
    /// The share of each rate limit (rpm, tpm, itpm, otpm) a sidecar keeps while Redis is
    /// unreachable: it cannot know how many others are running.
    public var localFraction = 0.5
    /// Longest wait for Redis on one round trip before it counts as unavailable.
    public var timeoutSeconds = 0.25

    public init(url: RedisURL) {
        self.url = url
    }

    /// `{"redis_url": ..., "key_prefix": ..., "on_unavailable": "local" | "fail",
    /// "local_fraction": 0.5, "password_env": "NAME"}`.
    public init(json: JSONValue, environment: [String: String]) throws(ConfigError) {
        guard case .object(let object) = json else { throw ConfigError("shared_limits must be an object") }
        let known = ["redis_url", "key_prefix", "on_unavailable", "local_fraction", "password_env"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw ConfigError("shared_limits: unknown field `\(unknown)` (expected \(known.joined(separator: ", ")))")
        }
        guard let text = object["redis_url"]?.stringValue else { throw ConfigError("shared_limits.redis_url (a redis:// URL) is required") }
        var password: String?
        if let name = object["password_env"] {
            guard let name = name.stringValue else { throw ConfigError("shared_limits.password_env must be a string") }
            password = environment[name]
        }
        do {
            try self.init(url: RedisURL(text, passwordFromEnvironment: password))
        } catch {
            throw ConfigError("shared_limits.redis_url: \(error.message)")
        }
        if let prefix = object["key_prefix"] {
            guard let prefix = prefix.stringValue, !prefix.isEmpty, !prefix.contains("{"), !prefix.contains("}") else {
                throw ConfigError("shared_limits.key_prefix must be a non-empty string without { or }")
            }
            keyPrefix = prefix
        }
        if let mode = object["on_unavailable"] {
            guard let mode = mode.stringValue.flatMap(OnUnavailable.init(rawValue:)) else {
                throw ConfigError("shared_limits.on_unavailable must be \"local\" or \"fail\"")
            }
            onUnavailable = mode
        }
        if let fraction = object["local_fraction"] {
            guard let fraction = fraction.doubleValue, fraction > 0, fraction <= 1 else {
                throw ConfigError("shared_limits.local_fraction must be a number in (0, 1]")
            }
            localFraction = fraction
        }
    }
}

extension SharedLimitsSettings {
    /// What a sidecar uses: the `--config` file's `shared_limits`, its URL replaced by
    /// `--redis-url` or else `VOLLEY_REDIS_URL` when given (their password, if the URL has none,
    /// from `VOLLEY_REDIS_PASSWORD`); nil when none of them is set (limits stay local).
    public static func resolve(configFile: [UInt8]?, redisURL flag: String?,
                               environment: [String: String]) throws(ConfigError) -> SharedLimitsSettings? {
        var settings: SharedLimitsSettings?
        if let configFile {
            let value: JSONValue
            do {
                value = try JSONParser.parse(configFile)
            } catch {
                throw ConfigError("invalid JSON: \(error.message)")
            }
            if let object = value["shared_limits"], !object.isNull {
                settings = try SharedLimitsSettings(json: object, environment: environment)
            }
        }
        let override = flag ?? environment["VOLLEY_REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let override {
            let url: RedisURL
            do {
                url = try RedisURL(override)
            } catch {
                throw ConfigError("\(flag == nil ? "VOLLEY_REDIS_URL" : "--redis-url"): \(error.message)")
            }
            var resolved = url
            if resolved.password == nil, let password = environment["VOLLEY_REDIS_PASSWORD"], !password.isEmpty {
                resolved.password = password
            }
            if settings == nil { settings = SharedLimitsSettings(url: resolved) } else { settings?.url = resolved }
        }
        return settings
    }
}

/// The engine's side of limits kept in Redis: one worker thread owns the connection and runs
/// the shared limiters' script (`VolleyRedis.SharedLimitScript`), so no Redis round trip ever
/// runs on the transport thread or blocks a task. While Redis is unreachable the sidecar is
/// degraded: acquires answer at once (`.unavailable`), the worker reconnects every second, and
/// the state change is logged once each way.
final class SharedLimits: Sendable {
    /// How far ahead an acquire reserves its slot rather than asking again: within it, one
    /// round trip per attempt, and the permits keep their order.
    static let reserveAheadSeconds = 2.0

    enum Answer: Sendable, Equatable {
        case granted
        /// Reserved: the attempt may start after this long (its slot is held meanwhile).
        case grantedAfter(Double)
        /// The limiter is full for every machine: try again after this long.
        case wait(Double)
        /// Another machine's 429 paused every machine on the key for this long: for the
        /// adaptive controller, a refusal like one of its own.
        case othersCooldown(Double)
        /// Redis cannot be used now.
        case unavailable
    }

    private enum Job {
        case acquire(SharedLimiterKeys, TokenCount, SharedBuckets, CheckedContinuation<Answer, Never>)
        case refund(SharedLimiterKeys, requests: Double, TokenCount, SharedBuckets)
        case cooldown(SharedLimiterKeys, Double, SharedBuckets)
        case sync(SharedLimiterKeys, RateLimitState, SharedBuckets)
    }

    /// One limiter's Redis keys and buckets: what jobs of one round are merged by.
    private struct Limiter: Hashable {
        var keys: SharedLimiterKeys
        var buckets: SharedBuckets
    }

    /// The jobs of one round trip, merged so that each limiter costs one script call per kind:
    /// refunds summed, header syncs merged (the least remaining wins: only ever slower), and
    /// every acquire one call for all its permits, in the order they were asked. Refunds go
    /// first so their slots serve this round's acquires.
    private struct Round {
        var operations: [SharedLimitOperation] = []
        /// Per operation: the acquires it answers, in permit order (empty for the others).
        var waiters: [[CheckedContinuation<Answer, Never>]] = []

        init(_ jobs: [Job], caller: String) {
            var refunds: [Limiter: (requests: Double, tokens: TokenCount)] = [:], refundOrder: [Limiter] = []
            var syncs: [Limiter: RateLimitState] = [:], syncOrder: [Limiter] = []
            var acquires: [Limiter: (permits: [PermitTokens], waiters: [CheckedContinuation<Answer, Never>])] = [:]
            var acquireOrder: [Limiter] = []
            var cooldowns: [SharedLimitOperation] = []
            for job in jobs {
                switch job {
                case .refund(let keys, let requests, let tokens, let buckets):
                    let limiter = Limiter(keys: keys, buckets: buckets)
                    if let sum = refunds[limiter] {
                        refunds[limiter] = (sum.requests + requests, TokenCount(input: sum.tokens.input + tokens.input,
                                                                               output: sum.tokens.output + tokens.output))
                    } else {
                        refunds[limiter] = (requests, tokens)
                        refundOrder.append(limiter)
                    }
                case .cooldown(let keys, let seconds, let buckets):
                    cooldowns.append(.cooldown(keys, seconds: seconds, buckets, caller: caller))
                case .sync(let keys, let headers, let buckets):
                    let limiter = Limiter(keys: keys, buckets: buckets)
                    if let merged = syncs[limiter] {
                        syncs[limiter] = merged.leastRemaining(headers)
                    } else {
                        syncs[limiter] = headers
                        syncOrder.append(limiter)
                    }
                case .acquire(let keys, let tokens, let buckets, let continuation):
                    let limiter = Limiter(keys: keys, buckets: buckets)
                    if acquires[limiter] == nil { acquireOrder.append(limiter) }
                    acquires[limiter, default: ([], [])].permits.append(PermitTokens(total: tokens.total, input: tokens.input, output: tokens.output))
                    acquires[limiter, default: ([], [])].waiters.append(continuation)
                }
            }
            for limiter in refundOrder {
                guard let sum = refunds[limiter], sum.requests != 0 || sum.tokens != .zero else { continue }
                add(.refund(limiter.keys, requests: sum.requests,
                            tokens: (Double(sum.tokens.total), Double(sum.tokens.input), Double(sum.tokens.output)), limiter.buckets))
            }
            for cooldown in cooldowns { add(cooldown) }
            for limiter in syncOrder {
                guard let headers = syncs[limiter] else { continue }
                add(.sync(limiter.keys, remaining: (headers.requestsRemaining, headers.tokensRemaining,
                                                    headers.inputTokensRemaining, headers.outputTokensRemaining), limiter.buckets))
            }
            for limiter in acquireOrder {
                guard let acquire = acquires[limiter] else { continue }
                add(.acquire(limiter.keys, permits: acquire.permits, limiter.buckets,
                             reserveAhead: SharedLimits.reserveAheadSeconds, caller: caller), waiters: acquire.waiters)
            }
        }

        private mutating func add(_ operation: SharedLimitOperation, waiters: [CheckedContinuation<Answer, Never>] = []) {
            operations.append(operation)
            self.waiters.append(waiters)
        }
    }

    private struct State {
        var jobs: [Job] = []
        var degraded = false
        var stopped = false
    }

    let settings: SharedLimitsSettings
    /// This sidecar's name in Redis (random, no meaning): marks the cooldowns it sets.
    private let caller = String(UInt64.random(in: 1...UInt64.max), radix: 36)
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let logger: Logger
    private let onDegraded: @Sendable (Bool) -> Void

    init(_ settings: SharedLimitsSettings, logger: Logger, onDegraded: @escaping @Sendable (Bool) -> Void) {
        self.settings = settings
        self.logger = logger
        self.onDegraded = onDegraded
    }

    /// Starts the worker (which connects); until it has, acquires wait for its first answer.
    /// A worker that cannot start leaves the sidecar degraded for good (and says so).
    func start() {
        do {
            try DetachedThread.start(name: "volley-redis") { [self] in run() }
        } catch {
            setDegraded(true, reason: "cannot start its thread: \(error)")
        }
    }

    var isDegraded: Bool { state.withLock { $0.degraded } }

    /// Stops the worker after the jobs queued so far (waiting acquires answer `.unavailable`).
    func stop() {
        state.withLock { $0.stopped = true }
        wake.signal()
    }

    /// The Redis keys of `assignment`'s limiter; nil for one never shared (a mock's).
    func keys(_ assignment: LimiterAssignment) -> SharedLimiterKeys? {
        assignment.sharedID.map { SharedLimiterKeys(prefix: settings.keyPrefix, limiter: $0) }
    }

    /// One permit of `keys`'s limiter for an attempt reserving `tokens`.
    func acquire(_ keys: SharedLimiterKeys, tokens: TokenCount, buckets: SharedBuckets) async -> Answer {
        if state.withLock({ $0.degraded }) { return .unavailable }
        return await withCheckedContinuation { continuation in
            enqueue(.acquire(keys, tokens, buckets, continuation))
        }
    }

    /// A reserved permit no attempt will use (deadline, cancellation): its request and tokens
    /// go back to the buckets.
    func giveBack(_ keys: SharedLimiterKeys, reserved: TokenCount, buckets: SharedBuckets) {
        guard !state.withLock({ $0.degraded }) else { return }
        enqueue(.refund(keys, requests: 1, reserved, buckets))
    }

    /// An attempt ended: gives back what it did not use (or charges what it used beyond its
    /// reservation); a refused attempt gets its request and its tokens back and pauses every
    /// machine for `cooldown` seconds; headers say what the server has left.
    func settle(_ keys: SharedLimiterKeys, reserved: TokenCount, used: TokenCount?, refusedFor cooldown: Double?,
                headers: RateLimitState, buckets: SharedBuckets) {
        guard !state.withLock({ $0.degraded }) else { return }
        if let cooldown {
            enqueue(.refund(keys, requests: 1, reserved, buckets))
            if cooldown > 0 { enqueue(.cooldown(keys, cooldown, buckets)) }
        } else if let used {
            let back = TokenCount(input: reserved.input - used.input, output: reserved.output - used.output)
            if back.total != 0 { enqueue(.refund(keys, requests: 0, back, buckets)) }
        }
        if !headers.isEmpty { enqueue(.sync(keys, headers, buckets)) }
    }

    private func enqueue(_ job: Job) {
        // After `stop()` no worker will take it: an acquire is answered here instead of never.
        let queued = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.jobs.append(job)
            return true
        }
        guard queued else { return answer(job, .unavailable) }
        wake.signal()
    }

    // MARK: - Worker thread

    private func run() {
        let clock = ContinuousClock()
        let origin = clock.now
        func monotonicSeconds() -> Double {
            let elapsed = (clock.now - origin).components
            return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        }
        var client: SharedLimitClient?
        var lastAttempt = -Double.infinity
        while true {
            // Degraded: wake at least every second to try Redis again.
            _ = wake.wait(timeout: client == nil ? .now() + .seconds(1) : .distantFuture)
            let (jobs, stopped) = state.withLock { state -> ([Job], Bool) in
                defer { state.jobs = [] }
                return (state.jobs, state.stopped)
            }
            if stopped {
                for job in jobs { answer(job, .unavailable) }
                return
            }
            if client == nil, monotonicSeconds() - lastAttempt >= 1 {
                lastAttempt = monotonicSeconds()
                do {
                    client = SharedLimitClient(try RedisConnection(settings.url, timeoutSeconds: settings.timeoutSeconds))
                    setDegraded(false, reason: nil)
                } catch {
                    setDegraded(true, reason: error.message)
                }
            }
            guard !jobs.isEmpty else { continue }
            guard let current = client else {
                for job in jobs { answer(job, .unavailable) }
                continue
            }
            // Every job queued meanwhile in one pipelined round trip, merged per limiter.
            let round = Round(jobs, caller: caller)
            do {
                let results = try current.run(round.operations)
                for (waiters, result) in zip(round.waiters, results) {
                    switch result {
                    case .success(let reply):
                        guard !waiters.isEmpty else { continue }
                        guard let grant = SharedGrant(reply: reply) else {
                            logger.error("shared limits: unexpected reply from the script: \(reply)")
                            for waiter in waiters { waiter.resume(returning: .unavailable) }
                            continue
                        }
                        for (index, waiter) in waiters.enumerated() {
                            if index < grant.granted {
                                let start = grant.starts[index]
                                waiter.resume(returning: start > 0 ? .grantedAfter(start) : .granted)
                            } else {
                                waiter.resume(returning: grant.othersCooldown ? .othersCooldown(grant.retryAfter) : .wait(grant.retryAfter))
                            }
                        }
                    case .failure(let error):
                        // A script error: a bug, not an outage. The items go on under local limits.
                        logger.error("shared limits: \(error.message)")
                        for waiter in waiters { waiter.resume(returning: .unavailable) }
                    }
                }
            } catch {
                client = nil
                lastAttempt = monotonicSeconds()
                setDegraded(true, reason: error.message)
                // Every job of the round trip: each acquire is answered exactly once.
                for job in jobs { answer(job, .unavailable) }
            }
        }
    }

    private func answer(_ job: Job, _ answer: Answer) {
        if case .acquire(_, _, _, let continuation) = job { continuation.resume(returning: answer) }
    }

    private func setDegraded(_ degraded: Bool, reason: String?) {
        let changed = state.withLock { state -> Bool in
            defer { state.degraded = degraded }
            return state.degraded != degraded
        }
        guard changed else { return }
        if degraded {
            let fallback = settings.onUnavailable == .local
                ? "going on with local limits at \(Int(settings.localFraction * 100))% until it is back"
                : "items waiting for a permit fail with shared_limits_unavailable until it is back"
            logger.warning("shared limits: Redis at \(settings.url) is unavailable (\(reason ?? "?")); \(fallback)")
        } else {
            logger.notice("shared limits: using Redis at \(settings.url)")
        }
        onDegraded(degraded)
    }
}

extension SharedBuckets {
    /// The buckets of limits `settings` sets (none when it sets no rate: concurrency is local).
    init(_ settings: LimiterSettings) {
        self.init(
            requests: settings.rpm.map { SharedBucket(perMinute: Double($0), burst: Double(settings.burst ?? RequestRate.defaultBurst(rpm: $0))) },
            tokens: settings.tpm.map { SharedBucket(perMinute: Double($0), burst: Double(settings.tokenBurst ?? $0)) },
            inputTokens: settings.itpm.map { SharedBucket(perMinute: Double($0), burst: Double(settings.tokenBurst ?? $0)) },
            outputTokens: settings.otpm.map { SharedBucket(perMinute: Double($0), burst: Double(settings.tokenBurst ?? $0)) })
    }

    var isEmpty: Bool { requests == nil && tokens == nil && inputTokens == nil && outputTokens == nil }
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
