import Synchronization

/// A dollar budget that concurrent calls cannot overspend: before an attempt is sent its
/// worst-case cost (input estimate + its `max_tokens` at the model's price) is reserved, and
/// when it ends the reservation is replaced by what it really cost. So however many calls run
/// at once, spent + reserved never passes the limit: the calls together cannot cost more
/// than it. Pure value type (`CostBudgetTests`).
struct CostBudget: Sendable, Equatable {
    let limit: Double
    private(set) var spent = 0.0
    private(set) var reserved = 0.0

    init(limit: Double) {
        self.limit = limit
    }

    /// What is left to reserve.
    var left: Double { max(0, limit - spent - reserved) }

    /// Reserves `worst` dollars; false (and nothing reserved) when it does not fit.
    mutating func reserve(_ worst: Double) -> Bool {
        // A millionth of a cent of slack: sums of prices are not exact in binary.
        guard spent + reserved + worst <= limit + 1e-8 else { return false }
        reserved += worst
        return true
    }

    /// An attempt that reserved `worst` ended having cost `cost` (0 when not billed).
    mutating func settle(reserved worst: Double, cost: Double) {
        reserved = max(0, reserved - worst)
        spent += cost
    }
}

/// One batch's `max_cost_usd`, shared by its items' tasks (or by every batch of a `volley run`
/// with `--max-cost`: give the same one to each).
public final class BatchBudget: Sendable {
    private let state: Mutex<CostBudget>

    public init(limit: Double) {
        state = Mutex(CostBudget(limit: limit))
    }

    public var limit: Double { state.withLock { $0.limit } }
    public var left: Double { state.withLock { $0.left } }
    public var spent: Double { state.withLock { $0.spent } }

    func reserve(_ worst: Double) -> Bool { state.withLock { $0.reserve(worst) } }

    func settle(reserved worst: Double, cost: Double) { state.withLock { $0.settle(reserved: worst, cost: cost) } }
}
