import Synchronization
import VolleyJSON

/// The one way to answer one JSON-RPC request; it answers exactly once.
///
/// The first ``respond(result:)`` or ``respond(error:)`` sends the reply (on the calling thread,
/// through the send function given to ``RPCInbound/route(replyingWith:)``, or into its batch's
/// reply); later calls do nothing and return `false`. A responder released without answering
/// answers -32603 from its `deinit`, so the host's future settles even when the server has a bug.
/// Safe to use from any thread.
public final class RPCResponder: Sendable {
    /// The id the reply carries.
    public let id: RPCID

    private let destination: RPCReplyDestination
    private let answered = Atomic<Bool>(false)

    init(id: RPCID, destination: RPCReplyDestination) {
        self.id = id
        self.destination = destination
    }

    deinit {
        if claim() {
            destination.deliver(RPCEncoder.errorResponse(
                id: id,
                error: .internalError("the server dropped this request without answering")
            ))
        }
    }

    /// Answers with `result`. Returns `false` if the request was already answered.
    @discardableResult
    public func respond(result: JSONValue) -> Bool {
        guard claim() else { return false }
        destination.deliver(RPCEncoder.response(id: id, result: result))
        return true
    }

    /// Answers with a whole response already encoded for this request's id (begun with
    /// ``RPCEncoder/responseHead(id:capacity:)``: large replies skip the `JSONValue` tree and
    /// a second copy). Returns `false` if the request was already answered.
    @discardableResult
    public func respond(encodedResponse: [UInt8]) -> Bool {
        guard claim() else { return false }
        destination.deliver(encodedResponse)
        return true
    }

    /// Answers with `error`. Returns `false` if the request was already answered.
    @discardableResult
    public func respond(error: RPCError) -> Bool {
        guard claim() else { return false }
        destination.deliver(RPCEncoder.errorResponse(id: id, error: error))
        return true
    }

    /// Whether the request has been answered.
    public var hasResponded: Bool {
        answered.load(ordering: .acquiring)
    }

    private func claim() -> Bool {
        answered.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
}
