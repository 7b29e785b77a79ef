import Synchronization

/// A gate that async callers pass while it is open and wait at while it is closed. Used for
/// backpressure: when the host stops reading our output, new items stop starting.
final class PauseGate: Sendable {
    private enum Waiter {
        case allocated
        case waiting(CheckedContinuation<Void, any Error>)
        case cancelled
    }

    private struct State {
        var isClosed = false
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 1
    }

    private let state = Mutex(State())

    var isClosed: Bool { state.withLock { $0.isClosed } }

    func close() {
        state.withLock { $0.isClosed = true }
    }

    func open() {
        let ready = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.isClosed = false
            let ready = state.waiters.values.compactMap { waiter -> CheckedContinuation<Void, any Error>? in
                if case .waiting(let continuation) = waiter { return continuation }
                return nil
            }
            state.waiters.removeAll()
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns at once when open; else waits until `open()`.
    /// - Throws: `CancellationError` when the task is cancelled while waiting.
    func pass() async throws {
        let id: UInt64? = state.withLock { state in
            guard state.isClosed else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.waiters[id] = .allocated
            return id
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let action = state.withLock { state -> Int in
                    switch state.waiters[id] {
                    case .cancelled?:
                        state.waiters[id] = nil
                        return 1
                    case nil:
                        return 0  // Opened in between.
                    default:
                        state.waiters[id] = .waiting(continuation)
                        return 2
                    }
                }
                if action == 1 { continuation.resume(throwing: CancellationError()) }
                if action == 0 { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                switch state.waiters[id] {
                case .allocated?:
                    state.waiters[id] = .cancelled
                    return nil
                case .waiting(let continuation)?:
                    state.waiters[id] = nil
                    return continuation
                default:
                    return nil
                }
            }
            continuation?.resume(throwing: CancellationError())
        }
    }
}
