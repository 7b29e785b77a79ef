import NIOCore

/// The whole pipeline of a `silent` server: counts connections and does nothing else (the
/// channel never reads, so the client's bytes stay unread and nothing is ever answered).
final class ConnectionCountingHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let core: ServerCore

    init(core: ServerCore) { self.core = core }

    func channelActive(context: ChannelHandlerContext) {
        _ = core.connectionOpened()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        core.connectionClosed()
        context.fireChannelInactive()
    }
}
