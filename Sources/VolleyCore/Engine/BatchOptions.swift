/// How a batch runs (the `gather` / `as_completed` params other than `requests`).
public struct BatchOptions: Sendable {
    /// Most items of this batch in flight at once (provider limits apply on top).
    public var concurrency: Int
    /// Seconds for the whole batch; items not done by then end `deadline_exceeded`.
    public var timeoutSeconds: Double?
    /// The first failed item cancels the rest.
    public var failFast: Bool
    public var priority: Priority
    /// Send `progress` notifications.
    public var progress: Bool
    /// Run the items on the HTTP transport's thread (`HTTPClient.executor`): a response is
    /// decoded where it arrives, with no hop to a pool thread and back. `onOutcome` and
    /// `onProgress` then run on that thread too, so turn this off when they may block (a
    /// write to a pipe or a slow disk): a blocked transport thread stalls every transfer.
    public var onTransportThread: Bool
    /// Most dollars the batch may spend (`max_cost_usd`): each attempt's worst case is
    /// reserved before it is sent (`CostBudget`).
    public var maxCostUSD: Double?
    /// A budget shared with other batches (`volley run --max-cost`); wins over `maxCostUSD`.
    public var budget: BatchBudget?

    public static let defaultConcurrency = 64
    public static let maxConcurrency = 10_000

    public init(concurrency: Int = BatchOptions.defaultConcurrency, timeoutSeconds: Double? = nil, failFast: Bool = false,
                priority: Priority = .interactive, progress: Bool = false, onTransportThread: Bool = true) {
        self.onTransportThread = onTransportThread
        self.concurrency = concurrency
        self.timeoutSeconds = timeoutSeconds
        self.failFast = failFast
        self.priority = priority
        self.progress = progress
    }
}

/// Counts and usage of one finished (or stopped) batch.
public struct BatchSummary: Sendable {
    /// Why the batch ended early, if it did.
    public enum Stop: Sendable {
        /// `fail_fast`: this outcome failed first.
        case failFast(Outcome)
        /// The batch's task was cancelled (`cancel`, shutdown, signal).
        case cancelled
    }

    public var total: Int
    public var succeeded = 0
    public var failed = 0
    public var cancelled = 0
    public var elapsedMs: Double = 0
    public var usage = Usage()
    /// The cost of the successes whose price is known, and how many had none.
    public var costUSD = 0.0
    public var costUnknown = 0
    /// Items ended `budget_exceeded` (not sent).
    public var budgetExceeded = 0
    public var stop: Stop?

    public init(total: Int) {
        self.total = total
    }

    mutating func record(_ outcome: Outcome) {
        switch outcome.result {
        case .success(let value):
            succeeded += 1
            if let used = value.usage { usage += used }
            if let cost = outcome.costUSD { costUSD += cost } else { costUnknown += 1 }
        case .failure(let error):
            if error.kind == .cancelled { cancelled += 1 } else { failed += 1 }
            if error.kind == .budgetExceeded { budgetExceeded += 1 }
        }
    }

    /// The `stats` object of a batch response.
    public var json: JSONValue {
        [
            "succeeded": .number(JSONNumber(succeeded)),
            "failed": .number(JSONNumber(failed)),
            "cancelled": .number(JSONNumber(cancelled)),
            "elapsed_ms": .number(JSONNumber((elapsedMs * 10).rounded() / 10) ?? 0),
            "usage": usage.json,
            "cost_usd": .number(JSONNumber(Outcome.dollars(costUSD)) ?? 0),
            "cost_unknown": .number(JSONNumber(costUnknown)),
            "budget_exceeded": .number(JSONNumber(budgetExceeded)),
        ]
    }
}

/// A `progress` notification's numbers.
public struct BatchProgress: Sendable, Hashable {
    public var done: Int
    public var failed: Int
    public var total: Int
}
