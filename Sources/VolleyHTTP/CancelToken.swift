import VolleySystem

/// Links a caller's cancellation to a transfer id without races: "check, register, check
/// again". Registration and cancellation take the same lock, so a cancel that arrives before
/// the transfer was enqueued stops it from being enqueued, and one that arrives after sends
/// exactly one cancel command.
final class CancelToken: Sendable {
    private enum State {
        case initial
        case registered(UInt64)
        case cancelled
    }

    private let state = Locked(State.initial)

    /// Runs `enqueue` (which returns the transfer id, or nil if it was not enqueued) unless
    /// cancellation already happened. Returns false when cancelled first.
    func register(_ enqueue: () -> UInt64?) -> Bool {
        state.withLock { state in
            if case .cancelled = state { return false }
            if let id = enqueue() { state = .registered(id) }
            return true
        }
    }

    /// Marks the token cancelled and, when a transfer was registered, calls `cancel` with
    /// its id (once).
    func cancel(_ cancel: (UInt64) -> Void) {
        state.withLock { state in
            if case .registered(let id) = state { cancel(id) }
            state = .cancelled
        }
    }
}
