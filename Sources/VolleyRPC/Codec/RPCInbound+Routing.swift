extension RPCInbound {
    /// Answers what needs no handler and returns the calls the dispatcher must handle.
    ///
    /// Parse errors and invalid messages are answered here, at once. Every request comes back as an
    /// ``RPCCall/request(method:params:responder:)`` whose ``RPCResponder`` writes the reply; every
    /// notification as ``RPCCall/notification(method:params:)``, which has no way to reply. For a
    /// batch, the responders feed one collector that sends a single array once all of them have
    /// answered, in member order; a batch of notifications only gets no reply at all. So the
    /// dispatcher cannot answer a notification, answer twice, or get a batch reply wrong.
    ///
    /// - Parameter send: writes one encoded reply (a response or a batch array), typically
    ///   ``FrameWriter/enqueue(_:)``. Called on whichever thread answers.
    public func route(replyingWith send: @escaping @Sendable ([UInt8]) -> Void) -> [RPCCall] {
        switch self {
        case .parseError(let error):
            send(RPCEncoder.errorResponse(id: .null, error: error))
            return []
        case .single(let message):
            return Self.route(message, destination: .direct(send)).map { [$0] } ?? []
        case .batch(let messages):
            let expectedReplies = messages.count { $0.expectsReply }
            let collector = expectedReplies > 0
                ? BatchReplyCollector(expectedReplies: expectedReplies, send: send)
                : nil
            var slot = 0
            var calls: [RPCCall] = []
            for message in messages {
                var destination: RPCReplyDestination?
                if message.expectsReply, let collector {
                    destination = .batch(collector, slot: slot)
                    slot += 1
                }
                if let call = Self.route(message, destination: destination) {
                    calls.append(call)
                }
            }
            return calls
        }
    }

    /// Answers an invalid message or wraps a valid one. `destination` is `nil` only for
    /// notifications: every message that expects a reply was given a slot by the caller.
    private static func route(_ message: RPCMessage, destination: RPCReplyDestination?) -> RPCCall? {
        switch message {
        case .notification(let method, let params):
            return .notification(method: method, params: params)
        case .request(let id, let method, let params):
            guard let destination else { return nil }
            return .request(method: method, params: params, responder: RPCResponder(id: id, destination: destination))
        case .invalid(let id, let error):
            guard let destination else { return nil }
            RPCResponder(id: id, destination: destination).respond(error: error)
            return nil
        }
    }
}
