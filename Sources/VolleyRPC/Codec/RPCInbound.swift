/// What one input line holds: one message, a batch of them, or nothing readable.
public enum RPCInbound: Sendable, Hashable {
    /// A single message (an empty batch `[]` is reported as one invalid message).
    case single(RPCMessage)
    /// The members of a non-empty batch, in order.
    case batch([RPCMessage])
    /// The line is not JSON or not UTF-8: answer `error` (-32700) with `id: null`.
    case parseError(RPCError)
}
