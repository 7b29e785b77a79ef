import Synchronization

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
    }

    private let state = Mutex(State())
    /// Whether any limit is set (read without the lock on every attempt's way).
    private let enforced = Atomic<Bool>(false)

    init() {}

    /// Sets the limits (nil: none for that period).
    func setLimits(lifetime: Double?, day: Double?) {
        state.withLock { state in
            state.lifetime.limit = lifetime ?? .infinity
            state.day.limit = day ?? .infinity
        }
        enforced.store(lifetime != nil || day != nil, ordering: .relaxed)
    }

    var isEnforced: Bool { enforced.load(ordering: .relaxed) }

    /// Reserves `worst` (nil: the model has no price) against every limit at `now`; returns
    /// what was reserved (to settle with), or why it cannot be.
    func reserve(_ worst: Double?, now: Double) -> Result<Double, Refusal> {
        guard let worst else { return isEnforced ? .failure(.unpriced) : .success(0) }
        return state.withLock { state -> Result<Double, Refusal> in
            for (period, budget) in [(ProviderBudget.Period.lifetime, state.lifetime), (.day, state.day)] {
                var budget = budget
                if budget.isEnforced, !budget.fits(worst, now: now) {
                    return .failure(.tooDear(period: period, limit: budget.limit, worst: worst, left: budget.left(now: now)))
                }
            }
            _ = state.lifetime.reserve(worst, now: now)
            _ = state.day.reserve(worst, now: now)
            return .success(worst)
        }
    }

    /// An attempt that reserved `reserved` ended at `now` having cost `cost`.
    func settle(reserved: Double, cost: Double, now: Double) {
        state.withLock { state in
            state.lifetime.settle(reserved: reserved, cost: cost, now: now)
            state.day.settle(reserved: reserved, cost: cost, now: now)
        }
    }

    /// Spent and reserved, by period, at `now` (for `stats`).
    func snapshot(now: Double) -> (lifetime: Double, day: Double, reserved: Double) {
        state.withLock { state in (state.lifetime.spent(now: now), state.day.spent(now: now), state.lifetime.reserved) }
    }
}
