import VolleySystem

/// One batch while it runs: the items not started yet, the summary and the last progress
/// report, shared by the batch's workers.
///
/// `Engine.run` starts one worker task per unit of the batch's concurrency; each takes the next
/// item, runs it, records its outcome and takes another. So an item costs no task of its own
/// and no wake of the batch's task: only the waits inside it (admission, HTTP, backoff).
/// Outcomes are recorded, and reported to the caller, one at a time under the lock, as the
/// batch's own task did when it collected them: `onOutcome` and `onProgress` never overlap.
final class BatchRun: Sendable {
    private struct State {
        var items: [PreparedItem]
        var next = 0
        var summary: BatchSummary
        var lastProgress: Double
    }

    private let state: Locked<State>
    private let failFast: Bool
    private let clock: any EngineClock
    private let onOutcome: @Sendable (Outcome) -> Void
    private let onProgress: (@Sendable (BatchProgress) -> Void)?

    init(items: consuming [PreparedItem], failFast: Bool, clock: any EngineClock, start: Double,
         onOutcome: @escaping @Sendable (Outcome) -> Void, onProgress: (@Sendable (BatchProgress) -> Void)?) {
        let total = items.count
        state = Locked(State(items: items, summary: BatchSummary(total: total), lastProgress: start))
        self.failFast = failFast
        self.clock = clock
        self.onOutcome = onOutcome
        self.onProgress = onProgress
    }

    /// The next item to start, taken out of the batch (so its body is freed when the item is
    /// done), or nil when none is left, or when the batch has stopped or `cancelled` (the
    /// calling task's cancellation): then every item not started ends `cancelled` here, once.
    func next(cancelled: Bool) -> PreparedItem? {
        state.withLock { state in
            guard state.next < state.items.count else { return nil }
            guard state.summary.stop == nil, !cancelled else {
                cancelRest(&state)
                return nil
            }
            let item = state.items[state.next]
            state.items[state.next] = .started(item.index)
            state.next += 1
            return item
        }
    }

    /// Records the outcome of an item a worker ran. True when it stopped the batch (fail_fast,
    /// and not the caller's own cancellation): every item not started has then ended too, and
    /// the items running must be cancelled.
    func finish(_ outcome: Outcome, cancelledByCaller: Bool) -> Bool {
        state.withLock { state in
            record(outcome, &state)
            guard failFast, state.summary.stop == nil, !outcome.isSuccess, !cancelledByCaller else { return false }
            state.summary.stop = .failFast(outcome)
            cancelRest(&state)
            return true
        }
    }

    /// Whether fail_fast stopped the batch.
    var isStopped: Bool { state.withLock { $0.summary.stop != nil } }

    /// The batch's summary so far (complete once every worker has returned).
    var summary: BatchSummary { state.withLock { $0.summary } }

    /// Ends every item not started with a `cancelled` outcome.
    private func cancelRest(_ state: inout State) {
        let reason = Self.cancelReason(state.summary.stop)
        while state.next < state.items.count {
            let item = state.items[state.next]
            state.items[state.next] = .started(item.index)
            state.next += 1
            record(Outcome(index: item.index, key: item.key, provider: item.provider,
                           result: .failure(ItemError(.cancelled, reason)), attempts: 0, latencyMs: nil, queuedMs: nil),
                   &state)
        }
    }

    private func record(_ outcome: Outcome, _ state: inout State) {
        state.summary.record(outcome)
        onOutcome(outcome)
        guard let onProgress else { return }
        let now = clock.now()
        let summary = state.summary
        let done = summary.succeeded + summary.failed + summary.cancelled
        if now - state.lastProgress >= 0.1 || done == summary.total {
            state.lastProgress = now
            onProgress(BatchProgress(done: done, failed: summary.failed, total: summary.total))
        }
    }

    private static func cancelReason(_ stop: BatchSummary.Stop?) -> String {
        if case .failFast(let outcome)? = stop { return "cancelled: item \(outcome.index) failed and fail_fast is set" }
        return "cancelled"
    }
}
