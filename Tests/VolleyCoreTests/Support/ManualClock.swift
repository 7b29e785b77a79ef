@testable import VolleyCore
import VolleySystem

/// A virtual `EngineClock` for tests: time stands still until the test advances it.
///
/// `sleep(until:)` returns at once when its deadline is due, else suspends until `advance`
/// reaches the deadline (or the sleeping task is cancelled: then it throws `CancellationError`
/// and is forgotten). `advance(to:)` wakes the due sleepers one at a time in deadline order
/// (ties in registration order), moving `now` to each one's deadline first, and ends at the
/// target. Invariant: no registered sleeper's deadline is ever `<= now`.
///
/// `waitForSleepers(atLeast:)` lets a test wait, without polling, until the code under test
/// has gone to sleep: it is resumed by the registration that makes the count reach its goal,
/// and gives up after a bounded amount of real time.
final class ManualClock: EngineClock {
    /// A suspension that may be cancelled before its continuation is registered.
    private enum Slot<Continuation> {
        /// Allocated; the continuation is not registered yet.
        case arriving
        /// Cancelled before the continuation was registered: it fails when it is.
        case cancelled
        case waiting(Continuation)
    }

    private struct Sleeper {
        var deadline: Double
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct Watcher {
        var atLeast: Int
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Double
        var nextID: UInt64 = 0
        var sleepers: [UInt64: Slot<Sleeper>] = [:]
        var watchers: [UInt64: Slot<Watcher>] = [:]

        mutating func allocate() -> UInt64 {
            nextID += 1
            return nextID
        }

        /// Registered sleepers, earliest deadline first (ties: registration order).
        var waiting: [(id: UInt64, deadline: Double)] {
            sleepers.compactMap { id, slot -> (id: UInt64, deadline: Double)? in
                if case .waiting(let sleeper) = slot { return (id, sleeper.deadline) }
                return nil
            }.sorted { $0.deadline < $1.deadline || ($0.deadline == $1.deadline && $0.id < $1.id) }
        }

        var count: Int { waiting.count }

        /// Removes and returns the watchers whose goal the current count meets.
        mutating func satisfiedWatchers() -> [CheckedContinuation<Void, any Error>] {
            let count = self.count
            var ready: [CheckedContinuation<Void, any Error>] = []
            for (id, slot) in watchers {
                if case .waiting(let watcher) = slot, watcher.atLeast <= count {
                    watchers[id] = nil
                    ready.append(watcher.continuation)
                }
            }
            return ready
        }
    }

    /// `waitForSleepers` gave up.
    struct SleepersTimeout: Error, CustomStringConvertible {
        var wanted: Int
        var registered: Int
        var now: Double
        var deadlines: [Double]
        var timeout: Duration

        var description: String {
            "ManualClock: waited \(timeout) of real time for at least \(wanted) sleeper(s), but \(registered) "
                + "registered (virtual now \(now), their deadlines \(deadlines)): the code under test is stuck "
                + "on something other than the clock, or sleeps less than the test expects"
        }
    }

    private let state: Locked<State>

    init(now: Double = 0) {
        state = Locked(State(now: now))
    }

    // MARK: - EngineClock

    func now() -> Double {
        state.withLock { $0.now }
    }

    func sleep(until deadline: Double) async throws {
        let id = state.withLock { state -> UInt64? in
            guard deadline > state.now else { return nil }
            let id = state.allocate()
            state.sleepers[id] = .arriving
            return id
        }
        guard let id else {
            // Due: like `SystemClock`, a cancelled task still learns it was cancelled.
            try Task.checkCancellation()
            return
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Registration {
                    case registered([CheckedContinuation<Void, any Error>])
                    case cancelled
                    case due
                }
                let registration = state.withLock { state -> Registration in
                    guard case .arriving? = state.sleepers[id] else {
                        state.sleepers[id] = nil
                        return .cancelled
                    }
                    if deadline <= state.now {
                        // The clock was advanced past it before it got here.
                        state.sleepers[id] = nil
                        return .due
                    }
                    state.sleepers[id] = .waiting(Sleeper(deadline: deadline, continuation: continuation))
                    return .registered(state.satisfiedWatchers())
                }
                switch registration {
                case .registered(let watchers):
                    for watcher in watchers { watcher.resume() }
                case .cancelled:
                    continuation.resume(throwing: CancellationError())
                case .due:
                    continuation.resume()
                }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                switch state.sleepers[id] {
                case .arriving?:
                    state.sleepers[id] = .cancelled
                    return nil
                case .waiting(let sleeper)?:
                    state.sleepers[id] = nil
                    return sleeper.continuation
                case .cancelled?, nil:
                    return nil  // Already woken (or already told).
                }
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    // MARK: - Driving time

    /// Sleepers registered and not yet woken or cancelled.
    var sleepers: Int {
        state.withLock { $0.count }
    }

    /// The earliest deadline among the registered sleepers.
    var nextDeadline: Double? {
        state.withLock { $0.waiting.first?.deadline }
    }

    /// The registered sleepers' deadlines, earliest first (for messages).
    var deadlines: [Double] {
        state.withLock { $0.waiting.map(\.deadline) }
    }

    /// Moves time forward to `target`, waking every sleeper whose deadline it reaches, in
    /// deadline order, with `now` set to each one's deadline as it is woken. A sleeper that
    /// registers meanwhile with a deadline up to `target` is woken in its turn too. Never
    /// moves time backwards.
    func advance(to target: Double) {
        while true {
            let due = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let first = state.waiting.first, first.deadline <= target,
                      case .waiting(let sleeper)? = state.sleepers[first.id] else {
                    state.now = max(state.now, target)
                    return nil
                }
                state.sleepers[first.id] = nil
                state.now = max(state.now, sleeper.deadline)
                return sleeper.continuation
            }
            guard let due else { return }
            due.resume()
        }
    }

    func advance(by seconds: Double) {
        precondition(seconds >= 0, "time only moves forward")
        advance(to: now() + seconds)
    }

    /// Advances to the earliest sleeper's deadline (read and acted on under one lock, so a
    /// sleeper cancelled meanwhile cannot make time jump past a newer, earlier one) and
    /// returns it; nil, without moving time, when nobody sleeps.
    @discardableResult
    func advanceToNextDeadline() -> Double? {
        let continuation = state.withLock { state -> (Double, CheckedContinuation<Void, any Error>)? in
            guard let first = state.waiting.first, case .waiting(let sleeper)? = state.sleepers[first.id] else { return nil }
            state.sleepers[first.id] = nil
            state.now = max(state.now, sleeper.deadline)
            return (sleeper.deadline, sleeper.continuation)
        }
        guard let (deadline, continuation) = continuation else { return nil }
        continuation.resume()
        // Others due at the same instant wake too.
        advance(to: deadline)
        return deadline
    }

    /// Suspends until at least `n` sleepers are registered. Woken by the registrations
    /// themselves (no polling).
    /// - Throws: `SleepersTimeout` after `timeout` of real time; `CancellationError` when the
    ///   calling task is cancelled.
    func waitForSleepers(atLeast n: Int, timeout: Duration = .seconds(10)) async throws {
        if sleepers >= n { return }
        try await withRealTimeLimit(timeout, onTimeout: {
            let (count, now, deadlines) = self.state.withLock { ($0.count, $0.now, $0.waiting.map(\.deadline)) }
            return SleepersTimeout(wanted: n, registered: count, now: now, deadlines: deadlines, timeout: timeout)
        }) {
            try await self.suspendUntilSleepers(atLeast: n)
        }
    }

    private func suspendUntilSleepers(atLeast n: Int) async throws {
        let id = state.withLock { state -> UInt64 in
            let id = state.allocate()
            state.watchers[id] = .arriving
            return id
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready = state.withLock { state -> Result<Bool, CancellationError> in
                    guard case .arriving? = state.watchers[id] else {
                        state.watchers[id] = nil
                        return .failure(CancellationError())
                    }
                    if state.count >= n {
                        state.watchers[id] = nil
                        return .success(true)
                    }
                    state.watchers[id] = .waiting(Watcher(atLeast: n, continuation: continuation))
                    return .success(false)
                }
                switch ready {
                case .success(true): continuation.resume()
                case .success(false): break
                case .failure(let error): continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                switch state.watchers[id] {
                case .arriving?:
                    state.watchers[id] = .cancelled
                    return nil
                case .waiting(let watcher)?:
                    state.watchers[id] = nil
                    return watcher.continuation
                case .cancelled?, nil:
                    return nil
                }
            }
            continuation?.resume(throwing: CancellationError())
        }
    }
}

/// Runs `body`, failing with `onTimeout()`'s error if it has not finished after `limit` of
/// real time (`body` is then cancelled). The real-time sleep only bounds a wait that should
/// end by an event; it never stands in for one.
func withRealTimeLimit<T: Sendable>(
    _ limit: Duration,
    onTimeout: @escaping @Sendable () -> any Error,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw onTimeout()
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw CancellationError()
        }
        return value
    }
}
