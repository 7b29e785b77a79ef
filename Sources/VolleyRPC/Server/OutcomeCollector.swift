import VolleyCore
import VolleySystem

/// Builds a `gather`'s reply in input order while its outcomes arrive, in any order, from the
/// batch's workers.
///
/// Each outcome is written to bytes once, as it arrives: straight into the reply when every
/// outcome before it is in, else (its members) into a buffer of its own until its turn comes
/// (outcomes mostly arrive close to input order, so few wait). `Engine.run` reports outcomes one
/// at a time, so the lock is not contended and the writing happens under it. The reply is the
/// response line itself, begun with the JSON-RPC head, so answering never copies it: a batch
/// holds its outcomes as the bytes it will send (a short chat outcome writes ~250 bytes), not as
/// `Outcome` values (~600 bytes with their strings), and nothing more at the end.
final class OutcomeCollector: Sendable {
    fileprivate struct State {
        /// The head, `{"results":[`, then outcomes `0..<next`, comma-separated.
        var reply: [UInt8]
        /// Where the results array (its `[`) starts in `reply`.
        let resultsStart: Int
        /// The index whose outcome goes into `reply` next.
        var next = 0
        /// Outcomes in `reply` (for the commas).
        var written = 0
        /// Outcomes that arrived before their turn, by index, encoded.
        var early: [Int: [UInt8]] = [:]
        let count: Int
    }

    private let state: Locked<State>

    /// A collector of `count` outcomes for the response to request `id`.
    init(count: Int, id: RPCID) {
        // Reserve well past a typical outcome: pages never written are never resident, while
        // growing past the reservation copies the whole reply into a buffer twice its size.
        var reply = RPCEncoder.responseHead(id: id, capacity: 128 + count * 1024)
        reply.append(contentsOf: #"{"results":["#.utf8)
        state = Locked(State(reply: reply, resultsStart: reply.count - 1, count: count))
    }

    /// Takes the outcome of item `outcome.index` (an index out of range, or one already taken,
    /// is ignored: every item has exactly one outcome).
    func store(_ outcome: Outcome) {
        let index = outcome.index
        state.withLock { state in
            if index == state.next {
                // Its turn (the common case): written straight into the reply, then whatever
                // was waiting for it.
                state.append { outcome.writeMembers(into: &$0) }
                while let waiting = state.early.removeValue(forKey: state.next) {
                    state.append { $0.append(contentsOf: waiting) }
                }
            } else if index > state.next, index < state.count, state.early[index] == nil {
                var members: [UInt8] = []
                members.reserveCapacity(320)
                outcome.writeMembers(into: &members)
                state.early[index] = members
            }
        }
    }

    /// The whole response, `{"jsonrpc":"2.0","id":ID,"result":{"results":[...],"stats":STATS}}`,
    /// outcomes in input order (any still missing are left out). Call once, at the end: the
    /// collector gives its buffer away.
    func response(stats: JSONValue) -> [UInt8] {
        state.withLock { state in
            state.flushEarly()
            var reply: [UInt8] = []
            swap(&reply, &state.reply)
            reply.append(contentsOf: #"],"stats":"#.utf8)
            stats.write(into: &reply)
            reply.append(contentsOf: "}}".utf8)
            return reply
        }
    }

    /// The outcome objects in input order (any still missing are left out), for an error's
    /// `data.results` (a stopped batch: fail_fast or cancelled). Parses the written outcomes
    /// back: a rare path, kept off the common one.
    func ordered() -> [JSONValue] {
        state.withLock { state in
            state.flushEarly()
            guard state.reply.count > state.resultsStart else { return [] }
            var array = Array(state.reply[state.resultsStart...])
            array.append(UInt8(ascii: "]"))
            guard case .array(let outcomes)? = try? JSONParser.parse(array) else { return [] }
            return outcomes
        }
    }
}

extension OutcomeCollector.State {
    /// Appends outcome `next`, `{` + what `members` writes + `}`, and moves on to the one after it.
    fileprivate mutating func append(_ members: (inout [UInt8]) -> Void) {
        if written > 0 { reply.append(UInt8(ascii: ",")) }
        reply.append(UInt8(ascii: "{"))
        members(&reply)
        reply.append(UInt8(ascii: "}"))
        written += 1
        next += 1
    }

    /// Appends every outcome held back, in index order, skipping the missing ones: at the end
    /// of a batch there are none unless an item never got its outcome.
    fileprivate mutating func flushEarly() {
        for index in early.keys.sorted() {
            if let members = early.removeValue(forKey: index) {
                next = index
                append { $0.append(contentsOf: members) }
            }
        }
    }
}
