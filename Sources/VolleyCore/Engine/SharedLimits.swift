import Dispatch
import Logging
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
/// runs on the transport thread or blocks a task. Most attempts take a permit the worker
/// leased ahead (`SharedLedger`), with no round trip of their own. While Redis is unreachable
/// the sidecar is degraded: acquires answer at once (`.unavailable`), the worker reconnects
/// every second, and the state change is logged once each way.
final class SharedLimits: Sendable {
    /// How far ahead an acquire reserves its slot rather than asking again: within it, one
    /// round trip per attempt, and the permits keep their order.
    static let reserveAheadSeconds = 2.0

    typealias Answer = SharedAnswer
    private typealias Ledger = SharedLedger<CheckedContinuation<Answer, Never>>

    private struct State {
        var ledger = Ledger()
        var degraded = false
        var stopped = false
    }

    let settings: SharedLimitsSettings
    /// This sidecar's name in Redis (random, no meaning): marks the cooldowns it sets.
    private let caller = String(UInt64.random(in: 1...UInt64.max), radix: 36)
    private let state = Locked(State())
    private let wake = DispatchSemaphore(value: 0)
    private let origin = ContinuousClock.now
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

    /// Seconds on the ledger's clock.
    private func now() -> Double {
        let elapsed = (ContinuousClock.now - origin).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }

    /// One permit of limiter `id` (`LimiterAssignment.sharedID`) for an attempt reserving
    /// `tokens`: from the lease when it holds one, else from the next round trip.
    func acquire(_ id: String, tokens: TokenCount, buckets: SharedBuckets) async -> Answer {
        let limiter = Ledger.Limiter(id: id, buckets: buckets)
        let taken = state.withLock { state -> (answer: Answer?, wake: Bool) in
            if state.degraded || state.stopped { return (.unavailable, false) }
            let taken = state.ledger.take(limiter, tokens: tokens, now: now())
            return (taken.wait.map { $0 > 0 ? .grantedAfter($0) : .granted }, taken.wake)
        }
        if taken.wake { wake.signal() }
        if let answer = taken.answer { return answer }
        return await withCheckedContinuation { continuation in
            let queued = state.withLock { state -> Bool in
                guard !state.stopped, !state.degraded else { return false }
                state.ledger.wait(limiter, tokens: tokens, continuation)
                return true
            }
            if queued { wake.signal() } else { continuation.resume(returning: .unavailable) }
        }
    }

    /// A reserved permit no attempt will use (deadline, cancellation): its request and tokens
    /// go back to the buckets.
    func giveBack(_ id: String, reserved: TokenCount, buckets: SharedBuckets) {
        let limiter = Ledger.Limiter(id: id, buckets: buckets)
        let wakes = state.withLock { state in
            !state.degraded && state.ledger.refund(limiter, requests: 1, tokens: reserved, now: now())
        }
        if wakes { wake.signal() }
    }

    /// An attempt ended: gives back what it did not use (or charges what it used beyond its
    /// reservation); a refused attempt gets its request and its tokens back and pauses every
    /// machine for `cooldown` seconds; headers say what the server has left. A cooldown goes
    /// at once; the rest with the next round trip, at most `SharedLedger.flushSeconds` later.
    func settle(_ id: String, reserved: TokenCount, used: TokenCount?, refusedFor cooldown: Double?,
                headers: RateLimitState, buckets: SharedBuckets) {
        let limiter = Ledger.Limiter(id: id, buckets: buckets)
        let urgent = state.withLock { state -> Bool in
            guard !state.degraded else { return false }
            let now = now()
            var wakes = false
            if let cooldown {
                wakes = state.ledger.refund(limiter, requests: 1, tokens: reserved, now: now)
                if cooldown > 0 {
                    state.ledger.cooldown(limiter, seconds: cooldown, now: now)
                    wakes = true
                }
            } else if let used {
                let back = TokenCount(input: reserved.input - used.input, output: reserved.output - used.output)
                if back != .zero { wakes = state.ledger.refund(limiter, requests: 0, tokens: back, now: now) }
            }
            if !headers.isEmpty, state.ledger.sync(limiter, headers, now: now) { wakes = true }
            return wakes
        }
        if urgent { wake.signal() }
    }

    // MARK: - Worker thread

    private func run() {
        var client: SharedLimitClient?
        var lastAttempt = -Double.infinity
        while true {
            let (urgent, deadline, stopped) = state.withLock { state in
                (state.ledger.isUrgent, state.ledger.nextDeadline, state.stopped)
            }
            if stopped {
                let waiting = state.withLock { $0.ledger.drain() }
                for waiter in waiting { waiter.resume(returning: .unavailable) }
                return
            }
            // Sleep until something is due: waiters, refills and cooldowns at once; refunds and
            // syncs when their flush window ends; an idle lease when it expires; while Redis is
            // away, the next attempt to reach it (once a second).
            let time = now()
            let due = client == nil ? lastAttempt + 1 : (urgent ? time : deadline)
            if client != nil || !urgent, let due, due > time {
                _ = wake.wait(timeout: .now() + .microseconds(Int(min(due - time, 1) * 1_000_000) + 1))
                continue
            }
            if client != nil, due == nil {
                wake.wait()
                continue
            }
            if client == nil, time - lastAttempt >= 1 {
                lastAttempt = time
                do {
                    client = SharedLimitClient(try RedisConnection(settings.url, timeoutSeconds: settings.timeoutSeconds))
                    setDegraded(false, reason: nil)
                } catch {
                    setDegraded(true, reason: error.message)
                }
            }
            guard let current = client else {
                let waiting = state.withLock { state in
                    state.ledger.forget()
                    return state.ledger.drain()
                }
                for waiter in waiting { waiter.resume(returning: .unavailable) }
                continue
            }
            // Everything due, in one pipelined round trip, merged per limiter.
            let round = state.withLock { state in
                state.ledger.round(now: now(), prefix: settings.keyPrefix, caller: caller, reserveAhead: Self.reserveAheadSeconds)
            }
            guard !round.operations.isEmpty else { continue }
            let results: [Result<[Int64], RedisError>]
            do {
                results = try current.run(round.operations)
            } catch {
                client = nil
                lastAttempt = now()
                setDegraded(true, reason: error.message)
                // Every waiter of the round trip: each acquire is answered exactly once.
                let waiting = state.withLock { $0.ledger.failed(round) }
                for waiter in waiting { waiter.resume(returning: .unavailable) }
                continue
            }
            var answers: [(CheckedContinuation<Answer, Never>, Answer)] = []
            state.withLock { state in
                let now = now()
                for (acquire, result) in zip(round.acquires, results) {
                    switch result {
                    case .success(let reply):
                        guard let acquire else { continue }
                        if let grant = SharedGrant(reply: reply) {
                            answers += state.ledger.granted(grant, acquire, now: now)
                        } else {
                            logger.error("shared limits: unexpected reply from the script: \(reply)")
                            answers += state.ledger.refused(acquire).map { ($0, .unavailable) }
                        }
                    case .failure(let error):
                        // A script error: a bug, not an outage. The items go on under local limits.
                        logger.error("shared limits: \(error.message)")
                        answers += (acquire.map { state.ledger.refused($0) } ?? []).map { ($0, .unavailable) }
                    }
                }
            }
            for (waiter, answer) in answers { waiter.resume(returning: answer) }
        }
    }

    private func setDegraded(_ degraded: Bool, reason: String?) {
        let changed = state.withLock { state -> Bool in
            defer { state.degraded = degraded }
            if degraded { state.ledger.forget() }
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
    /// The buckets of limits `settings` sets. None (no rate configured): Redis still carries the
    /// limiter's cooldown, so one machine's 429 pauses every machine on the key.
    init(_ settings: LimiterSettings) {
        self.init(
            requests: settings.rpm.map { SharedBucket(perMinute: Double($0), burst: Double(settings.burst ?? RequestRate.defaultBurst(rpm: $0))) },
            tokens: settings.tpm.map { SharedBucket(perMinute: Double($0), burst: Double(settings.tokenBurst ?? $0)) },
            inputTokens: settings.itpm.map { SharedBucket(perMinute: Double($0), burst: Double(settings.tokenBurst ?? $0)) },
            outputTokens: settings.otpm.map { SharedBucket(perMinute: Double($0), burst: Double(settings.tokenBurst ?? $0)) })
    }
}
