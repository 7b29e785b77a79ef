import VolleyJSON

/// A message the dispatcher must handle, as returned by ``RPCInbound/route(replyingWith:)``.
public enum RPCCall: Sendable {
    /// A request: answer it through `responder`, exactly once.
    case request(method: String, params: JSONValue?, responder: RPCResponder)
    /// A notification: handle it, never answer it.
    case notification(method: String, params: JSONValue?)

    /// The method name.
    public var method: String {
        switch self {
        case .request(let method, _, _), .notification(let method, _): method
        }
    }

    /// The params, if any (always an object or an array).
    public var params: JSONValue? {
        switch self {
        case .request(_, let params, _), .notification(_, let params): params
        }
    }
}
