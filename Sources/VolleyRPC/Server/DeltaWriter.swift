import VolleyCore
import VolleySystem

/// Writes one request's `delta` and `reset` notifications (docs/protocol.md, "Token
/// streaming"). While the host reads slowly (more than `congestedBytes` waiting in its
/// queue), an item's deltas wait here and the next ones merge into them: text is never
/// dropped, and what waits is at most the unsent text of the items in flight. An item's
/// waiting delta goes out with its next one once the host has caught up, or before its
/// outcome (`flush`), so every delta precedes the outcome.
final class DeltaWriter: Sendable {
    /// Queued bytes from which deltas are merged rather than sent one by one.
    static let congestedBytes = 1 << 20

    private struct Waiting {
        var attempt: Int
        var delta: StreamDelta
    }

    private let request: JSONValue
    private let send: @Sendable ([UInt8]) -> Void
    private let queued: @Sendable () -> Int
    private let congestedBytes: Int
    /// Per item index, the delta not yet sent. Frames are queued with the lock held, so two
    /// deltas of one item can never be written out of order.
    private let waiting = Locked<[Int: Waiting]>([:])

    init(request: JSONValue, congestedBytes: Int = DeltaWriter.congestedBytes, queued: @escaping @Sendable () -> Int,
         send: @escaping @Sendable ([UInt8]) -> Void) {
        self.request = request
        self.congestedBytes = congestedBytes
        self.queued = queued
        self.send = send
    }

    func handle(_ event: StreamEvent) {
        waiting.withLock { waiting in
            switch event {
            case .delta(let index, let attempt, let delta):
                var next = Waiting(attempt: attempt, delta: delta)
                if let earlier = waiting[index], earlier.attempt == attempt {
                    next = earlier
                    next.delta.merge(delta)
                }
                if queued() >= congestedBytes {
                    waiting[index] = next
                } else {
                    waiting[index] = nil
                    write(index, next)
                }
            case .reset(let index, let attempt):
                // What waits is void too; the host discards what it already got.
                waiting[index] = nil
                send(RPCEncoder.notification(method: "reset", params: [
                    "request": request, "index": .number(JSONNumber(index)), "attempt": .number(JSONNumber(attempt)),
                ]))
            }
        }
    }

    /// Sends item `index`'s waiting delta: call before its outcome.
    func flush(_ index: Int) {
        waiting.withLock { waiting in
            guard let next = waiting.removeValue(forKey: index) else { return }
            write(index, next)
        }
    }

    private func write(_ index: Int, _ next: Waiting) {
        var params: JSONObject = [
            "request": request, "index": .number(JSONNumber(index)), "attempt": .number(JSONNumber(next.attempt)),
        ]
        for (name, value) in next.delta.json { params[name] = value }
        send(RPCEncoder.notification(method: "delta", params: .object(params)))
    }
}
