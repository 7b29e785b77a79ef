import VolleySystem

/// Counts the items allowed in flight. The producer takes free slots in bulk (at least
/// `minimum`, so each engine batch it starts is not tiny); every outcome gives one back.
///
/// One producer waits at a time (the run's reading loop).
final class SlotPool: Sendable {
    private struct State {
        var free: Int
        /// What the waiting producer asked for.
        var request: (minimum: Int, limit: Int)?
        var producer = Waiters<Int>()

        mutating func take(_ limit: Int) -> Int {
            let taken = min(free, limit)
            free -= taken
            return taken
        }
    }

    private let state: Locked<State>

    init(capacity: Int) {
        state = Locked(State(free: capacity))
    }

    /// Waits until at least `minimum` slots are free, then takes the free slots (at most
    /// `limit`) and returns how many it took. It never waits forever as long as every slot
    /// taken is eventually released and `minimum` is at most the capacity.
    func acquire(minimum: Int, limit: Int) async -> Int {
        await state.wait(
            until: { state in state.free >= minimum ? state.take(limit) : nil },
            park: { state, producer in
                precondition(state.producer.isEmpty, "SlotPool has one waiter at a time")
                state.request = (minimum, limit)
                state.producer.append(producer)
            })
    }

    func release(_ count: Int) {
        guard count > 0 else { return }
        let (producer, taken) = state.withLock { state -> (Waiters<Int>.Ready, Int) in
            state.free += count
            guard let request = state.request, state.free >= request.minimum else { return (.none, 0) }
            state.request = nil
            return (state.producer.takeAll(), state.take(request.limit))
        }
        producer.resume(returning: taken)
    }

    var free: Int { state.withLock { $0.free } }
}
