import VolleyJSON

/// One JSON-RPC message from the host, classified.
public enum RPCMessage: Sendable, Hashable {
    /// A request: it must be answered exactly once, with this id.
    case request(id: RPCID, method: String, params: JSONValue?)
    /// A notification (no `id` member): it must never be answered.
    case notification(method: String, params: JSONValue?)
    /// Not a valid request: answer `error` (-32600) with `id`, which is the message's own id when
    /// it had a valid one and `null` otherwise.
    case invalid(id: RPCID, RPCError)

    /// Whether the protocol requires a reply to this message.
    public var expectsReply: Bool {
        switch self {
        case .request, .invalid: true
        case .notification: false
        }
    }
}
