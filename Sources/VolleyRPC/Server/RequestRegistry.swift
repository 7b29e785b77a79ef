import VolleyCore
import VolleySystem

/// The cancellable requests running now (gather, as_completed, call), by id, the count of the
/// other requests still being handled, and the server's lifecycle flags. Every change happens
/// under one lock.
///
/// A cancellable request's id is released just before its answer is sent (``start(_:_:)``'s
/// `release`), so a host that reuses the id as soon as it reads the answer, or cancels it, never
/// finds it still "running"; its task still counts for ``waitUntilIdle()`` until it ends, so
/// `shutdown`'s `null` always follows the answers of the work it waited for.
final class RequestRegistry: Sendable {
    private struct Entry {
        let token: UInt64
        let task: Task<Void, Never>
    }

    private struct State {
        /// Cancellable requests whose id is in use (not yet answered).
        var running: [RPCID: Entry] = [:]
        /// Cancellable tasks not yet ended (answered or not).
        var active = 0
        var nextToken: UInt64 = 0
        /// Handlers of other requests (ping, stats, shutdown, ...) that have not returned yet.
        var others = 0
        var shuttingDown = false
        var idleWaiters = Waiters<Void>()
        var quietWaiters = Waiters<Void>()

        var isIdle: Bool { active == 0 }
        var isQuiet: Bool { active == 0 && others == 0 }

        /// Takes the waiters whose condition now holds.
        mutating func takeReadyWaiters() -> Waiters<Void>.Ready {
            let idle = isIdle ? idleWaiters.takeAll() : .none
            return isQuiet ? idle.merged(with: quietWaiters.takeAll()) : idle
        }
    }

    private let state = Locked(State())

    enum StartResult { case started, idInUse, shuttingDown }

    /// Starts `body` as the task of request `id`, unless the id is in use or the server is
    /// shutting down. `body` must call its `release` argument right before it answers (calling
    /// it again, or not at all, is harmless: the id is released when the task ends anyway).
    func start(_ id: RPCID, _ body: @escaping @Sendable (_ release: @escaping @Sendable () -> Void) async -> Void) -> StartResult {
        state.withLock { state in
            if state.shuttingDown { return .shuttingDown }
            if state.running[id] != nil { return .idInUse }
            let token = state.nextToken
            state.nextToken += 1
            state.active += 1
            // Created under the lock so a cancel (or cancelAll) can never miss it.
            let task = Task {
                await body { self.release(id, token: token) }
                self.release(id, token: token)
                self.finishTask()
            }
            state.running[id] = Entry(token: token, task: task)
            return .started
        }
    }

    /// Frees `id` if it still belongs to the task with `token` (a new request may reuse it).
    private func release(_ id: RPCID, token: UInt64) {
        state.withLock { state in
            if state.running[id]?.token == token { state.running[id] = nil }
        }
    }

    private func finishTask() {
        let waiters = state.withLock { state in
            state.active -= 1
            return state.takeReadyWaiters()
        }
        waiters.resume()
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
        let waiters = state.withLock { state in
            state.others -= 1
            return state.takeReadyWaiters()
        }
        waiters.resume()
    }

    /// Whether a cancellable request with this id is running.
    func isRunning(_ id: RPCID) -> Bool {
        state.withLock { $0.running[id] != nil }
    }

    /// Cancels request `id`. Returns false when no such request is running.
    func cancel(_ id: RPCID) -> Bool {
        guard let entry = state.withLock({ $0.running[id] }) else { return false }
        entry.task.cancel()
        return true
    }

    func cancelAll() {
        for entry in state.withLock({ Array($0.running.values) }) { entry.task.cancel() }
    }

    /// From now on `start` refuses new requests.
    func beginShutdown() {
        state.withLock { $0.shuttingDown = true }
    }

    var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }

    var runningCount: Int { state.withLock { $0.active } }

    /// Returns once no request of any kind is being handled: every request read so far has been
    /// answered (its reply is queued on the writer).
    func waitUntilQuiet() async {
        await state.wait(until: { $0.isQuiet ? () : nil }, park: { $0.quietWaiters.append($1) })
    }

    /// Returns once no cancellable request (gather, as_completed, call) is running.
    func waitUntilIdle() async {
        await state.wait(until: { $0.isIdle ? () : nil }, park: { $0.idleWaiters.append($1) })
    }
}
