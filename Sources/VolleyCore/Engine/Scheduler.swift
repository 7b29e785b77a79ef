import Synchronization

/// The async face of `SchedulerCore`: `acquire` waits for a permit, `release` returns it.
/// Cancellation of the waiting task removes it from the queues and throws.
final class Scheduler: Sendable {
    private enum Entry {
        case allocated
        case waiting(CheckedContinuation<Void, any Error>)
        case cancelled
    }

    private struct State {
        var core = SchedulerCore()
        var entries: [UInt64: Entry] = [:]
        var nextID: UInt64 = 1
    }

    private let state = Mutex(State())

    /// Waits until the limiter `limiter` (created with `concurrency` on first use) grants a
    /// permit to this batch. - Throws: `CancellationError` when the task is cancelled first.
    func acquire(limiter: String, concurrency: Int, batch: UInt64, priority: Priority) async throws {
        let id = state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.entries[id] = .allocated
            return id
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (granted, cancelledFirst) = state.withLock { state -> ([CheckedContinuation<Void, any Error>], Bool) in
                    if case .cancelled? = state.entries[id] {
                        state.entries[id] = nil
                        return ([], true)
                    }
                    state.entries[id] = .waiting(continuation)
                    let ids = state.core.enqueue(
                        .init(id: id, batch: batch, priority: priority, limiter: limiter), concurrency: concurrency)
                    return (Self.take(ids, from: &state), false)
                }
                if cancelledFirst { continuation.resume(throwing: CancellationError()) }
                for waiter in granted { waiter.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                switch state.entries[id] {
                case .allocated?:
                    state.entries[id] = .cancelled
                    return nil
                case .waiting(let continuation)?:
                    guard state.core.cancel(id) else { return nil }
                    state.entries[id] = nil
                    return continuation
                case .cancelled?, nil:
                    return nil
                }
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Returns a permit taken with `acquire`.
    func release(limiter: String) {
        let granted = state.withLock { state in
            Self.take(state.core.release(limiter: limiter), from: &state)
        }
        for waiter in granted { waiter.resume() }
    }

    /// Waiting and in-flight counts per limiter.
    func snapshot() -> [String: (inFlight: Int, queued: Int, concurrency: Int)] {
        state.withLock { $0.core.snapshot() }
    }

    private static func take(_ ids: [UInt64], from state: inout State) -> [CheckedContinuation<Void, any Error>] {
        ids.compactMap { id in
            guard case .waiting(let continuation)? = state.entries.removeValue(forKey: id) else { return nil }
            return continuation
        }
    }
}
