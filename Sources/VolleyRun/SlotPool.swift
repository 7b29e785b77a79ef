import Synchronization

/// Counts the items allowed in flight. The producer takes free slots in bulk (at least
/// `minimum`, so each engine batch it starts is not tiny); every outcome gives one back.
///
/// One producer waits at a time (the run's reading loop).
final class SlotPool: Sendable {
    private struct Waiter {
        var minimum: Int
        var limit: Int
        var continuation: CheckedContinuation<Int, Never>
    }

    private struct State {
        var free: Int
        var waiter: Waiter?

        mutating func take(_ limit: Int) -> Int {
            let taken = min(free, limit)
            free -= taken
            return taken
        }
    }

    private let state: Mutex<State>

    init(capacity: Int) {
        state = Mutex(State(free: capacity))
    }

    /// Waits until at least `minimum` slots are free, then takes the free slots (at most
    /// `limit`) and returns how many it took. It never waits forever as long as every slot
    /// taken is eventually released and `minimum` is at most the capacity.
    func acquire(minimum: Int, limit: Int) async -> Int {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
            let granted: Int? = state.withLock { state in
                if state.free >= minimum { return state.take(limit) }
                precondition(state.waiter == nil, "SlotPool has one waiter at a time")
                state.waiter = Waiter(minimum: minimum, limit: limit, continuation: continuation)
                return nil
            }
            if let granted { continuation.resume(returning: granted) }
        }
    }

    func release(_ count: Int) {
        guard count > 0 else { return }
        let wake: (CheckedContinuation<Int, Never>, Int)? = state.withLock { state in
            state.free += count
            guard let waiter = state.waiter, state.free >= waiter.minimum else { return nil }
            state.waiter = nil
            return (waiter.continuation, state.take(waiter.limit))
        }
        if let (continuation, taken) = wake { continuation.resume(returning: taken) }
    }

    var free: Int { state.withLock { $0.free } }
}
