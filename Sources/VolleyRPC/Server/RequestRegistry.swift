import Synchronization
import VolleyCore

/// The cancellable requests running now (gather, as_completed, call), by id, the count of the
/// other requests still being handled, and the server's lifecycle flags. Every change happens
/// under one lock.
final class RequestRegistry: Sendable {
    private struct State {
        var running: [RPCID: Task<Void, Never>] = [:]
        /// Handlers of other requests (ping, stats, shutdown, ...) that have not returned yet.
        var others = 0
        var shuttingDown = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
        var quietWaiters: [CheckedContinuation<Void, Never>] = []

        var isQuiet: Bool { running.isEmpty && others == 0 }

        /// Takes the waiters whose condition now holds.
        mutating func takeReadyWaiters() -> [CheckedContinuation<Void, Never>] {
            var ready: [CheckedContinuation<Void, Never>] = []
            if running.isEmpty {
                ready += idleWaiters
                idleWaiters = []
            }
            if isQuiet {
                ready += quietWaiters
                quietWaiters = []
            }
            return ready
        }
    }

    private let state = Mutex(State())

    /// Starts `body` as the task of request `id`, unless the id is in use or the server is
    /// shutting down. `onEnd` runs after the task unregisters.
    enum StartResult { case started, idInUse, shuttingDown }

    func start(_ id: RPCID, onEnd: @escaping @Sendable () -> Void, _ body: @escaping @Sendable () async -> Void) -> StartResult {
        state.withLock { state in
            if state.shuttingDown { return .shuttingDown }
            if state.running[id] != nil { return .idInUse }
            // Created under the lock so a cancel (or cancelAll) can never miss it.
            state.running[id] = Task {
                await body()
                self.finish(id)
                onEnd()
            }
            return .started
        }
    }

    private func finish(_ id: RPCID) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.running[id] = nil
            return state.takeReadyWaiters()
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Runs the handler of a request that is not cancellable as a task that ``waitUntilQuiet()``
    /// waits for, so its answer is written before the process exits.
    func startOther(_ body: @escaping @Sendable () async -> Void) {
        state.withLock { state in
            state.others += 1
            Task {
                await body()
                self.finishOther()
            }
        }
    }

    private func finishOther() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.others -= 1
            return state.takeReadyWaiters()
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Whether a cancellable request with this id is running.
    func isRunning(_ id: RPCID) -> Bool {
        state.withLock { $0.running[id] != nil }
    }

    /// Cancels request `id`. Returns false when no such request is running.
    func cancel(_ id: RPCID) -> Bool {
        guard let task = state.withLock({ $0.running[id] }) else { return false }
        task.cancel()
        return true
    }

    func cancelAll() {
        for task in state.withLock({ Array($0.running.values) }) { task.cancel() }
    }

    /// From now on `start` refuses new requests.
    func beginShutdown() {
        state.withLock { $0.shuttingDown = true }
    }

    var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }

    var runningCount: Int { state.withLock { $0.running.count } }

    /// Returns once no request of any kind is being handled: every request read so far has been
    /// answered (its reply is queued on the writer).
    func waitUntilQuiet() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let quiet = state.withLock { state in
                if state.isQuiet { return true }
                state.quietWaiters.append(continuation)
                return false
            }
            if quiet { continuation.resume() }
        }
    }

    /// Returns once no cancellable request (gather, as_completed, call) is running.
    func waitUntilIdle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { state in
                if state.running.isEmpty { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }
}
