import DequeModule
import VolleySystem

/// A dollar budget that concurrent calls cannot overspend: before an attempt is sent its
/// worst-case cost (input estimate + its `max_tokens` at the model's price) is reserved, and
/// when it ends the reservation is replaced by what it really cost. So however many calls run
/// at once, spent + reserved never passes the limit: the calls together cannot cost more
/// than it.
///
/// Without a `window` everything spent counts (a batch's `max_cost_usd`, a provider's budget
/// over the sidecar's lifetime). With one (a provider's rolling day), spending is kept by the
/// minute of the clock it was settled at, and a minute's spending stops counting once a whole
/// window has passed after that minute ended: between `window` and `window` + 60 s after it was
/// spent, never before. Pure value type, driven by the caller's clock (`CostBudgetTests`).
struct CostBudget: Sendable, Equatable {
    /// Dollars; `.infinity` records spending without holding it to anything.
    var limit: Double
    /// Seconds spending counts for (86,400 for a rolling day); nil: for good.
    let window: Double?
    private(set) var reserved = 0.0
    /// What counts now: everything without a window, else the window's minutes (as of the
    /// last call that looked).
    private var counted = 0.0
    /// With a window: (minute number, dollars settled in it), oldest first.
    private var minutes: Deque<Minute> = []

    private struct Minute: Equatable {
        var number: Int
        var spent: Double
    }

    init(limit: Double, window: Double? = nil) {
        self.limit = limit
        self.window = window
    }

    /// Whether a limit applies.
    var isEnforced: Bool { limit.isFinite }

    /// What was spent and still counts at `now`.
    func spent(now: Double = 0) -> Double {
        guard window != nil else { return counted }
        let oldest = oldestMinute(now)
        var gone = 0.0
        for minute in minutes {
            guard minute.number < oldest else { break }
            gone += minute.spent
        }
        return max(0, counted - gone)
    }

    /// What is left to reserve at `now`.
    func left(now: Double = 0) -> Double {
        max(0, limit - spent(now: now) - reserved)
    }

    /// Whether `worst` dollars would fit at `now` (nothing is reserved).
    mutating func fits(_ worst: Double, now: Double = 0) -> Bool {
        expire(now: now)
        // A millionth of a cent of slack: sums of prices are not exact in binary.
        return counted + reserved + worst <= limit + 1e-8
    }

    /// Reserves `worst` dollars; false (and nothing reserved) when it does not fit.
    mutating func reserve(_ worst: Double, now: Double = 0) -> Bool {
        guard fits(worst, now: now) else { return false }
        reserved += worst
        return true
    }

    /// An attempt that reserved `worst` ended at `now` having cost `cost` (0 when not billed).
    mutating func settle(reserved worst: Double, cost: Double, now: Double = 0) {
        reserved = max(0, reserved - worst)
        guard cost > 0 else { return }
        expire(now: now)
        counted += cost
        guard window != nil else { return }
        let minute = Self.minute(now)
        if let last = minutes.last, last.number >= minute {
            minutes[minutes.count - 1].spent += cost
        } else {
            minutes.append(Minute(number: minute, spent: cost))
        }
    }

    private static func minute(_ now: Double) -> Int {
        let minute = (now / 60).rounded(.down)
        return minute.isFinite ? Int(max(-1e15, min(1e15, minute))) : 0
    }

    /// The first minute still in the window at `now`.
    private func oldestMinute(_ now: Double) -> Int {
        Self.minute(now) - Int(((window ?? 0) / 60).rounded(.up))
    }

    /// Drops the minutes that left the window; recounts what remains (no drift from sums).
    private mutating func expire(now: Double) {
        guard window != nil, let first = minutes.first else { return }
        let oldest = oldestMinute(now)
        guard first.number < oldest else { return }
        while let first = minutes.first, first.number < oldest { minutes.removeFirst() }
        counted = minutes.reduce(0) { $0 + $1.spent }
    }
}

/// One batch's `max_cost_usd`, shared by its items' tasks (or by every batch of a `volley run`
/// with `--max-cost`: give the same one to each).
public final class BatchBudget: Sendable {
    private let state: Locked<CostBudget>

    public init(limit: Double) {
        state = Locked(CostBudget(limit: limit))
    }

    public var limit: Double { state.withLock { $0.limit } }
    public var left: Double { state.withLock { $0.left() } }
    public var spent: Double { state.withLock { $0.spent() } }

    func reserve(_ worst: Double) -> Bool { state.withLock { $0.reserve(worst) } }

    func settle(reserved worst: Double, cost: Double) { state.withLock { $0.settle(reserved: worst, cost: cost) } }
}
