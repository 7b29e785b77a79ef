import Testing
import VolleyHTTP
import VolleyTestSupport
@testable import VolleyCore
import VolleySystem

// The harness of VirtualTimeEngineTests: a batch on a ManualClock and its timed outcomes.

/// One outcome and the virtual time it was reported at.
struct TimedOutcome: Sendable {
    var outcome: Outcome
    var at: Double
}

/// Collects outcomes with the clock's time; a test can wait for a count (woken by the
/// outcome itself, bounded in real time).
final class TimedOutcomes: Sendable {
    private struct Waiter {
        var count: Int
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var entries: [TimedOutcome] = []
        var waiters: [UInt64: Waiter] = [:]
        var cancelled: Set<UInt64> = []
        var nextID: UInt64 = 0
    }

    private let clock: ManualClock
    private let state = Locked(State())

    init(clock: ManualClock) {
        self.clock = clock
    }

    var all: [TimedOutcome] { state.withLock { $0.entries } }

    func append(_ outcome: Outcome) {
        let at = clock.now()
        let ready = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.entries.append(TimedOutcome(outcome: outcome, at: at))
            let count = state.entries.count
            let due = state.waiters.filter { $0.value.count <= count }
            for id in due.keys { state.waiters[id] = nil }
            return due.values.map(\.continuation)
        }
        for continuation in ready { continuation.resume() }
    }

    func waitFor(count: Int, timeout: Duration = .seconds(10)) async throws {
        try await withRealTimeLimit(timeout, onTimeout: {
            let entries = self.all
            return HarnessError("waited \(timeout) for \(count) outcome(s), got \(entries.count): \(describe(entries)) "
                                + "(virtual now \(self.clock.now()), sleepers at \(self.clock.deadlines))")
        }) {
            let id = self.state.withLock { state -> UInt64 in
                state.nextID += 1
                return state.nextID
            }
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let now = self.state.withLock { state -> Result<Bool, CancellationError> in
                        if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                        if state.entries.count >= count { return .success(true) }
                        state.waiters[id] = Waiter(count: count, continuation: continuation)
                        return .success(false)
                    }
                    switch now {
                    case .success(true): continuation.resume()
                    case .success(false): break
                    case .failure(let error): continuation.resume(throwing: error)
                    }
                }
            } onCancel: {
                let continuation = self.state.withLock { state -> CheckedContinuation<Void, any Error>? in
                    if let waiter = state.waiters.removeValue(forKey: id) { return waiter.continuation }
                    // Not registered yet (or already resumed, then the mark is never read:
                    // the ids are not reused, so it only costs a set entry).
                    state.cancelled.insert(id)
                    return nil
                }
                continuation?.resume(throwing: CancellationError())
            }
        }
    }
}

/// Values appended from other tasks.
final class Recorded: Sendable {
    private let state = Locked<[Double]>([])
    func append(_ value: Double) { state.withLock { $0.append(value) } }
    var values: [Double] { state.withLock { $0 } }
}

func describe(_ entries: [TimedOutcome]) -> String {
    entries.map { entry in
        let what = entry.outcome.error.map { "\($0.kind.rawValue) \"\($0.message)\"" } ?? "ok"
        return "#\(entry.outcome.index) \(what) at \(entry.at)"
    }.joined(separator: ", ")
}

/// A batch running on a `ManualClock` in a child task.
struct VirtualBatch: Sendable {
    let clock: ManualClock
    let engine: Engine
    let outcomes: TimedOutcomes
    let task: Task<BatchSummary, Never>

    struct Finished {
        var summary: BatchSummary
        /// The deadlines `finish` advanced the clock to, in order.
        var steps: [Double]
    }

    /// Awaits the batch, advancing the clock to the earliest sleeper's deadline whenever one
    /// sleeps, but never past `limit`: a batch that needs more time fails the test (and is
    /// cancelled) instead of passing or hanging.
    func finish(advancingUpTo limit: Double = .infinity) async throws -> Finished {
        let clock = self.clock
        let task = self.task
        let driver = Task { () throws -> [Double] in
            var steps: [Double] = []
            do {
                while true {
                    try await clock.waitForSleepers(atLeast: 1)
                    if let next = clock.nextDeadline, next > limit {
                        throw HarnessError("the engine sleeps until \(next), past the test's limit of \(limit) "
                                           + "(sleepers at \(clock.deadlines))")
                    }
                    if let reached = clock.advanceToNextDeadline() { steps.append(reached) }
                }
            } catch is CancellationError {
                return steps
            } catch {
                task.cancel()
                throw error
            }
        }
        let summary = await task.value
        driver.cancel()
        return Finished(summary: summary, steps: try await driver.value)
    }
}

/// Runs `requests` on a fresh engine with a `ManualClock` (the batch in a child task) and
/// hands it to `body`, which must drive the clock and `finish` the batch. When `body` throws,
/// the batch is cancelled and awaited, so nothing outlives the test.
func withVirtualBatch(
    providers: JSONValue = ["mock": ["kind": "mock"]],
    requests: [JSONValue],
    options: BatchOptions = BatchOptions(),
    _ body: (VirtualBatch) async throws -> Void
) async throws {
    let http = try HTTPClient()
    let clock = ManualClock()
    let engine = Engine(http: http, environment: [:], clock: clock)
    do {
        try engine.configure(providers: providers, defaultProvider: nil)
    } catch {
        await http.shutdown()
        throw error
    }
    let items: [PreparedItem]
    switch engine.prepare(requests) {
    case .success(let prepared): items = prepared
    case .failure(let rejection):
        await http.shutdown()
        throw HarnessError("batch rejected: \(rejection.message)")
    }
    let outcomes = TimedOutcomes(clock: clock)
    let task = Task { await engine.run(items, options: options, onOutcome: outcomes.append) }
    do {
        try await body(VirtualBatch(clock: clock, engine: engine, outcomes: outcomes, task: task))
    } catch {
        task.cancel()
        _ = await task.value
        await http.shutdown()
        throw error
    }
    _ = await task.value
    await http.shutdown()
}

/// A mock item on `provider`, replying with no latency.
func virtualItem(_ index: Int, provider: String) -> JSONValue {
    var object = mockItem(index, latencyMs: 0).objectValue ?? [:]
    object["provider"] = .string(provider)
    return .object(object)
}
