import Synchronization
import VolleyCore

/// The cancellable requests running now (gather, as_completed, call), by id, and the server's
/// lifecycle flags. Every change happens under one lock.
final class RequestRegistry: Sendable {
    private struct State {
        var running: [RPCID: Task<Void, Never>] = [:]
        var shuttingDown = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
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
            guard state.running.isEmpty else { return [] }
            defer { state.idleWaiters = [] }
            return state.idleWaiters
        }
        for waiter in waiters { waiter.resume() }
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

    /// Returns once no request is running.
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
