import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// An HTTP/1.1 server on 127.0.0.1 (SwiftNIO) whose kept-alive connections can be made stale:
/// after ``makeExistingConnectionsStale()``, a request arriving on a connection accepted
/// before is answered with a TCP reset and no reply, as a load balancer does with a
/// connection it forgot after idle, while later connections are answered. So that a test can
/// fill libcurl's pool with one connection per request, the first `holdUntil` requests are
/// held until all of them have arrived, then answered together.
///
/// Every answer is a minimal OpenAI chat completion.
public final class ResettingHTTPServer: Sendable {
    public let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let shared: Shared

    final class Shared: Sendable {
        struct State {
            var connections = 0
            var staleBelow = 0
            var received = 0
            var resets = 0
            var held: [EventLoopPromise<Void>] = []
        }

        let state = NIOLockedValueBox(State())
        let holdUntil: Int

        init(holdUntil: Int) { self.holdUntil = holdUntil }

        func accepted() -> Int { state.withLockedValue { $0.connections += 1; return $0.connections } }

        /// Books a request on connection `number`: whether to reset it, and else when to answer.
        func received(on number: Int, loop: any EventLoop) -> (stale: Bool, answer: EventLoopFuture<Void>) {
            let (stale, release, wait) = state.withLockedValue { state -> (Bool, [EventLoopPromise<Void>], EventLoopPromise<Void>?) in
                if number < state.staleBelow {
                    state.resets += 1
                    return (true, [], nil)
                }
                state.received += 1
                guard state.received <= holdUntil else { return (false, [], nil) }
                let promise = loop.makePromise(of: Void.self)
                state.held.append(promise)
                guard state.received == holdUntil else { return (false, [], promise) }
                defer { state.held = [] }
                return (false, state.held, promise)
            }
            for promise in release { promise.succeed() }
            if let wait, release.isEmpty {
                // Bounded: a test that never sends them all still gets its answers.
                loop.scheduleTask(in: .seconds(10)) { self.releaseHeld() }
                return (stale, wait.futureResult)
            }
            return (stale, wait?.futureResult ?? loop.makeSucceededVoidFuture())
        }

        /// Answers every held request now (each promise is taken off the list once, under
        /// the lock, so none is completed twice).
        func releaseHeld() {
            let held = state.withLockedValue { state in
                defer { state.held = [] }
                return state.held
            }
            for promise in held { promise.succeed() }
        }
    }

    private init(port: Int, group: MultiThreadedEventLoopGroup, channel: any Channel, shared: Shared) {
        self.port = port
        self.group = group
        self.channel = channel
        self.shared = shared
    }

    /// Starts listening on a free port.
    public static func start(holdUntil: Int) async throws -> ResettingHTTPServer {
        let shared = Shared(holdUntil: holdUntil)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(ResettingHandler(number: shared.accepted(), shared: shared))
                }
            }
        do {
            let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
            guard let port = channel.localAddress?.port else {
                try? await channel.close()
                throw ResettingServerError("the bound socket has no port")
            }
            return ResettingHTTPServer(port: port, group: group, channel: channel, shared: shared)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Connections accepted, and requests answered with a reset.
    public var connections: Int { shared.state.withLockedValue { $0.connections } }
    public var resets: Int { shared.state.withLockedValue { $0.resets } }

    /// From now on, a request on any connection accepted so far is answered with a reset.
    public func makeExistingConnectionsStale() {
        shared.state.withLockedValue { $0.staleBelow = $0.connections + 1 }
    }

    public func shutdown() async throws {
        try? await channel.close()
        try await group.shutdownGracefully()
    }
}

struct ResettingServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private final class ResettingHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let number: Int
    private let shared: ResettingHTTPServer.Shared

    init(number: Int, shared: ResettingHTTPServer.Shared) {
        self.number = number
        self.shared = shared
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let (stale, answer) = shared.received(on: number, loop: context.eventLoop)
        if stale {
            // SO_LINGER 0 then close: the peer gets RST, not FIN, and no reply.
            guard let provider = context.channel as? any SocketOptionProvider else {
                context.close(promise: nil)
                return
            }
            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        answer.assumeIsolated().whenSuccess { self.respond(context) }
    }

    private func respond(_ context: ChannelHandlerContext) {
        let body = #"{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: "\(body.utf8.count)")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
