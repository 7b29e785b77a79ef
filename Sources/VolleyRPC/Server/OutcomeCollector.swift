import VolleyCore
import VolleySystem

/// Gathers a batch's outcomes (delivered from concurrent tasks) for an input-order reply.
final class OutcomeCollector: Sendable {
    private let slots: Locked<[Outcome?]>

    init(count: Int) {
        slots = Locked(Array(repeating: nil, count: count))
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

    /// `{"results":[...],"stats":STATS}` written straight to bytes, outcomes in input order.
    func encodedResult(stats: JSONValue) -> [UInt8] {
        slots.withLock { slots in
            // Reserve well past a typical outcome (a short chat reply writes ~280 bytes): pages
            // never written are never resident, while growing past the reservation copies the
            // whole reply into a buffer twice its size (at 20,000 outcomes of ~280 bytes, a
            // 256-byte reservation cost 11 MB of RSS at bench W1).
            var bytes: [UInt8] = []
            bytes.reserveCapacity(64 + slots.count * 1024)
            bytes.append(contentsOf: #"{"results":["#.utf8)
            var first = true
            for case let outcome? in slots {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                bytes.append(UInt8(ascii: "{"))
                outcome.writeMembers(into: &bytes)
                bytes.append(UInt8(ascii: "}"))
            }
            bytes.append(contentsOf: #"],"stats":"#.utf8)
            stats.write(into: &bytes)
            bytes.append(UInt8(ascii: "}"))
            return bytes
        }
    }
}
