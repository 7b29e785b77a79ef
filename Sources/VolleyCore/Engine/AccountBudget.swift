import Synchronization
import VolleySystem

/// What one account (an API origin and key: `LimiterIdentity.Account`) may spend through this
/// sidecar: the providers' `budget`s, over the sidecar's lifetime and over any rolling day.
/// One per account in the engine's `LimiterDirectory`, shared by every session and every model
/// that calls with the key, so two hosts of a shared sidecar spend one budget. Spending is
/// recorded from the first call whether or not a limit is set, so a limit configured later
/// counts what was already spent. The limit in force is the strictest a configured session
/// asks for (`LimiterDirectory.refresh`).
final class AccountBudget: Sendable {
    /// Why an attempt cannot be afforded.
    enum Refusal: Error, Sendable, Equatable {
        /// Its model has no price, so nothing could be reserved.
        case unpriced
        /// Its worst case does not fit what is left of the budget of `period`.
        case tooDear(period: ProviderBudget.Period, limit: Double, worst: Double, left: Double)
    }

    private struct State {
        var lifetime = CostBudget(limit: .infinity)
        var day = CostBudget(limit: .infinity, window: 86_400)
        /// What Redis last said was spent in the day on every machine (shared day budgets).
        var sharedSpent: Double?
    }

    private let state = Locked(State())
    /// Whether any limit is set (read without the lock on every attempt's way).
    private let enforced = Atomic<Bool>(false)
    /// The account's id in Redis, where its day budget is kept when shared limits are
    /// configured (a digest of origin and key, as a limiter's; nil for a mock).
    let sharedID: String?

    init(sharedID: String? = nil) {
        self.sharedID = sharedID
    }

    /// Sets the limits (nil: none for that period).
    func setLimits(lifetime: Double?, day: Double?) {
        state.withLock { state in
            state.lifetime.limit = lifetime ?? .infinity
            state.day.limit = day ?? .infinity
        }
        enforced.store(lifetime != nil || day != nil, ordering: .relaxed)
    }

    var isEnforced: Bool { enforced.load(ordering: .relaxed) }

    /// The day's limit, if one is set.
    var dayLimit: Double? {
        state.withLock { $0.day.isEnforced ? $0.day.limit : nil }
    }

    /// Reserves `worst` (nil: the model has no price) against every limit at `now`; returns
    /// what was reserved (to settle with), or why it cannot be. `dayElsewhere`: the day's limit
    /// is held in Redis (`SharedBudgets`), so only the lifetime's is checked here (the day
    /// still records the reservation, for a fallback while Redis is away).
    func reserve(_ worst: Double?, now: Double, dayElsewhere: Bool = false) -> Result<Double, Refusal> {
        guard let worst else { return isEnforced ? .failure(.unpriced) : .success(0) }
        return state.withLock { state -> Result<Double, Refusal> in
            for (period, budget) in [(ProviderBudget.Period.lifetime, state.lifetime), (.day, state.day)] {
                var budget = budget
                if period == .day, dayElsewhere { continue }
                if budget.isEnforced, !budget.fits(worst, now: now) {
                    return .failure(.tooDear(period: period, limit: budget.limit, worst: worst, left: budget.left(now: now)))
                }
            }
            _ = state.lifetime.reserve(worst, now: now)
            _ = state.day.reserve(worst, now: now)
            return .success(worst)
        }
    }

    /// Whether this sidecar's own day (its spending and reservations, this call's included)
    /// stays within `fraction` of the day's limit: the fallback while Redis is away.
    func dayFitsLocally(fraction: Double, now: Double) -> Bool {
        state.withLock { state in
            !state.day.isEnforced || state.day.spent(now: now) + state.day.reserved <= state.day.limit * fraction + 1e-8
        }
    }

    /// What Redis said of the day (every machine's spending).
    func sharedReading(spent: Double) {
        state.withLock { $0.sharedSpent = spent }
    }

    /// An attempt that reserved `reserved` ended at `now` having cost `cost`.
    func settle(reserved: Double, cost: Double, now: Double) {
        state.withLock { state in
            state.lifetime.settle(reserved: reserved, cost: cost, now: now)
            state.day.settle(reserved: reserved, cost: cost, now: now)
        }
    }

    /// Spent and reserved, by period, at `now` (for `stats`); the day's is every machine's, as
    /// Redis last said, when it is shared.
    func snapshot(now: Double) -> (lifetime: Double, day: Double, reserved: Double) {
        state.withLock { state in
            (state.lifetime.spent(now: now), state.sharedSpent.map { max($0, state.day.spent(now: now)) } ?? state.day.spent(now: now),
             state.lifetime.reserved)
        }
    }
}
