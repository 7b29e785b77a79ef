import VolleySystem

/// Gathers the replies of one batch and sends them as one array once the last has arrived.
///
/// Created only when the batch has at least one member that expects a reply, with exactly that
/// many slots, so an all-notification batch is never answered and a batch reply is never sent
/// before every slot is filled. Replies keep the members' order.
final class BatchReplyCollector: Sendable {
    private let send: @Sendable ([UInt8]) -> Void
    private let state: Locked<State>

    private struct State {
        var replies: [[UInt8]]
        var remaining: Int
    }

    init(expectedReplies: Int, send: @escaping @Sendable ([UInt8]) -> Void) {
        precondition(expectedReplies > 0, "a batch without replies must not have a collector")
        self.send = send
        self.state = Locked(State(replies: Array(repeating: [], count: expectedReplies), remaining: expectedReplies))
    }

    /// Stores the reply for `slot`; sends the batch when it was the last one. Each slot is filled
    /// once: ``RPCResponder`` guarantees it.
    func deliver(_ reply: [UInt8], slot: Int) {
        let complete = state.withLock { state -> [[UInt8]]? in
            state.replies[slot] = reply
            state.remaining -= 1
            guard state.remaining == 0 else { return nil }
            defer { state.replies = [] }
            return state.replies
        }
        if let complete {
            send(RPCEncoder.batch(complete))
        }
    }
}
