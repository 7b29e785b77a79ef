/// Where an ``RPCResponder``'s reply goes.
enum RPCReplyDestination: Sendable {
    /// Straight out, as its own line.
    case direct(@Sendable ([UInt8]) -> Void)
    /// Into slot `slot` of a batch reply.
    case batch(BatchReplyCollector, slot: Int)

    func deliver(_ reply: [UInt8]) {
        switch self {
        case .direct(let send): send(reply)
        case .batch(let collector, let slot): collector.deliver(reply, slot: slot)
        }
    }
}
