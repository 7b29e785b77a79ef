import Synchronization
import VolleyCore

/// Gathers a batch's outcomes (delivered from concurrent tasks) for an input-order reply.
final class OutcomeCollector: Sendable {
    private let slots: Mutex<[Outcome?]>

    init(count: Int) {
        slots = Mutex(Array(repeating: nil, count: count))
    }

    func store(_ outcome: Outcome) {
        slots.withLock { slots in
            if slots.indices.contains(outcome.index) { slots[outcome.index] = outcome }
        }
    }

    var outcomes: [Outcome] { slots.withLock { $0.compactMap { $0 } } }

    /// Outcome objects in input order.
    func ordered() -> [JSONValue] {
        slots.withLock { $0.compactMap { $0.map { .object($0.json) } } }
    }
}
