import Dispatch
import Logging
import VolleyRedis
import VolleySystem

/// Providers' day budgets kept in Redis (`VolleyRedis.SharedBudgetScript`), for every sidecar on
/// the same key, when shared limits are configured. A worker thread of its own owns its own
/// connection: an attempt under a shared day budget waits one round trip for its reservation
/// (the jobs queued meanwhile go in the same pipeline), and its settlement rides the next round
/// trip. Unlike rate permits, dollars are not leased ahead: a lease would be money other
/// machines could not spend. While Redis is unreachable reservations answer `.unavailable` at
/// once and the worker tries again each second; settlements queued then are dropped, and their
/// reservations lapse in Redis charged at their worst case (never an undercount).
final class SharedBudgets: Sendable {
    enum Answer: Sendable, Equatable {
        /// Held in Redis under this reservation id (settle it with `settle`); `spent`: dollars
        /// spent in the last day on every machine.
        case granted(String, spent: Double)
        /// It does not fit: dollars spent in the last day and held by calls in flight, on every
        /// machine.
        case refused(spent: Double, held: Double)
        case unavailable
    }

    private struct Reserve {
        let operation: SharedBudgetOperation
        let continuation: CheckedContinuation<Answer, Never>
        let id: String
    }

    /// One account's settlements waiting for a round trip.
    private struct Settlement {
        /// Reservations that ended, with what each cost.
        var holds: [(id: String, cost: Double)] = []
        /// Costs of calls that reserved nothing here (no day budget on this sidecar), summed.
        var loose = 0.0

        var operationArguments: [(id: String, cost: Double)] { loose > 0 ? holds + [("", loose)] : holds }
    }

    private struct State {
        var reserves: [Reserve] = []
        var settles: [SharedBudgetKeys: Settlement] = [:]
        /// When the oldest waiting settlement was queued (they wait up to `flushSeconds`).
        var settlesSince: Double?
        var degraded = false
        var stopped = false
        var sequence: UInt64 = 0
    }

    let settings: SharedLimitsSettings
    /// This sidecar's part of every reservation id (random, no meaning).
    private let caller = String(UInt64.random(in: 1...UInt64.max), radix: 36)
    private let state = Locked(State())
    private let wake = DispatchSemaphore(value: 0)
    private let logger: Logger
    private let origin = ContinuousClock.now

    init(_ settings: SharedLimitsSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    func start() {
        do {
            try DetachedThread.start(name: "volley-budget") { [self] in run() }
        } catch {
            logger.error("shared budgets: cannot start their thread: \(error)")
            state.withLock { $0.degraded = true }
        }
    }

    /// Stops the worker after the jobs queued so far (waiting reservations answer `.unavailable`).
    func stop() {
        state.withLock { $0.stopped = true }
        wake.signal()
    }

    func keys(_ account: String) -> SharedBudgetKeys { SharedBudgetKeys(prefix: settings.keyPrefix, account: account) }

    /// Holds `dollars` of `account`'s day budget of `limit` for a call that lasts at most
    /// `lapse` seconds.
    func reserve(_ account: String, limit: Double, dollars: Double, lapse: Double) async -> Answer {
        await withCheckedContinuation { continuation in
            let queued = state.withLock { state -> Bool in
                guard !state.stopped, !state.degraded else { return false }
                state.sequence += 1
                let id = "\(caller).\(state.sequence)"
                state.reserves.append(Reserve(operation: .reserve(keys(account), limit: limit, id: id, dollars: dollars, lapse: lapse),
                                              continuation: continuation, id: id))
                return true
            }
            if queued { wake.signal() } else { continuation.resume(returning: .unavailable) }
        }
    }

    /// Settlements wait this long for company (one round trip for all), unless a reservation
    /// goes first: a dollar spent is known to the other machines within it.
    static let flushSeconds = 0.05

    /// A call that held `reservation` (nil: none; its cost is still charged to the day, so
    /// machines that set no budget on the key count towards the ones that did) cost `cost`.
    func settle(_ account: String, reservation: String?, cost: Double) {
        guard reservation != nil || cost > 0 else { return }
        let first = state.withLock { state -> Bool in
            guard !state.stopped, !state.degraded else { return false }
            let keys = keys(account)
            if let reservation {
                state.settles[keys, default: Settlement()].holds.append((reservation, cost))
            } else {
                state.settles[keys, default: Settlement()].loose += cost
            }
            guard state.settlesSince == nil else { return false }
            state.settlesSince = seconds()
            return true
        }
        if first { wake.signal() }
    }

    // MARK: - Worker thread

    /// Seconds since this object was made (when to try Redis again).
    private func seconds() -> Double {
        let elapsed = (ContinuousClock.now - origin).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }

    private func run() {
        var client: SharedBudgetClient?
        var lastAttempt = -Double.infinity
        while true {
            // Reservations go at once, with every settlement queued; settlements alone wait
            // until the oldest has waited `flushSeconds`.
            let (reserves, settles, stopped, flushIn) = state.withLock { state -> ([Reserve], [SharedBudgetKeys: Settlement], Bool, Double?) in
                if state.reserves.isEmpty, !state.stopped, let since = state.settlesSince, seconds() - since < Self.flushSeconds {
                    return ([], [:], false, since + Self.flushSeconds - seconds())
                }
                defer {
                    state.reserves = []
                    state.settles = [:]
                    state.settlesSince = nil
                }
                return (state.reserves, state.settles, state.stopped, nil)
            }
            if let flushIn {
                _ = wake.wait(timeout: .now() + .microseconds(Int(flushIn * 1_000_000) + 1))
                continue
            }
            if client == nil, !stopped, !reserves.isEmpty || !settles.isEmpty || state.withLock({ $0.degraded }) {
                let now = seconds()
                if now - lastAttempt >= 1 {
                    lastAttempt = now
                    do {
                        client = SharedBudgetClient(try RedisConnection(settings.url, timeoutSeconds: settings.timeoutSeconds))
                        setDegraded(false, reason: nil)
                    } catch {
                        setDegraded(true, reason: error.message)
                    }
                }
            }
            guard let current = client, !stopped else {
                for reserve in reserves { reserve.continuation.resume(returning: .unavailable) }
                if stopped { return }
                // Degraded: look again in a second (or when a job arrives).
                _ = wake.wait(timeout: state.withLock { $0.degraded } ? .now() + .seconds(1) : .distantFuture)
                continue
            }
            if reserves.isEmpty, settles.isEmpty {
                wake.wait()
                continue
            }
            let operations = settles.map { SharedBudgetOperation.settle($0.key, $0.value.operationArguments) } + reserves.map(\.operation)
            do {
                let results = try current.run(operations)
                for (reserve, result) in zip(reserves, results.dropFirst(settles.count)) {
                    switch result {
                    case .success(let reading) where reading.granted:
                        reserve.continuation.resume(returning: .granted(reserve.id, spent: reading.spent))
                    case .success(let reading):
                        reserve.continuation.resume(returning: .refused(spent: reading.spent, held: reading.held))
                    case .failure(let error):
                        logger.error("shared budgets: \(error.message)")
                        reserve.continuation.resume(returning: .unavailable)
                    }
                }
                for case .failure(let error) in results.prefix(settles.count) { logger.error("shared budgets: \(error.message)") }
            } catch {
                client = nil
                lastAttempt = seconds()
                setDegraded(true, reason: error.message)
                for reserve in reserves { reserve.continuation.resume(returning: .unavailable) }
            }
        }
    }

    private func setDegraded(_ degraded: Bool, reason: String?) {
        let changed = state.withLock { state -> Bool in
            defer { state.degraded = degraded }
            return state.degraded != degraded
        }
        guard changed else { return }
        if degraded {
            let fallback = settings.onUnavailable == .local
                ? "day budgets go on locally at \(Int(settings.localFraction * 100))% until it is back"
                : "calls under a day budget fail with shared_limits_unavailable until it is back"
            logger.warning("shared budgets: Redis at \(settings.url) cannot be reached (\(reason ?? "?")); \(fallback)")
        } else {
            logger.notice("shared budgets: using Redis at \(settings.url)")
        }
    }
}
