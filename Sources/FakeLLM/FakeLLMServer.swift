import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// An OpenAI/Anthropic-compatible fake LLM server on SwiftNIO (HTTP/1.1, keep-alive).
///
/// Serves the model endpoints
/// - `POST /v1/chat/completions`: OpenAI chat completions (JSON, or SSE with `stream`),
/// - `POST /v1/responses`: OpenAI's Responses API (JSON, or its SSE events with `stream`),
/// - `POST /v1/completions`: OpenAI's legacy text completions, a choice per prompt (JSON or SSE),
/// - `POST /v1/embeddings`: OpenAI embeddings, deterministic unit vectors per input (floats or base64),
/// - `POST /v1/messages`: Anthropic's Messages API (JSON, or SSE),
///
/// and `GET /v1/models`, and the test endpoints `GET /fake/stats` and `POST /fake/reset`. Every
/// model endpoint shares the scripting, the RPM/TPM limits and their headers, `maxInFlight` and
/// the counters. Each request can script its own answer (latency, status, failure modes, reply
/// text) with `x-fake-*` headers or a `"fake"` body object, so one server serves many test
/// cases. Start it with `start(_:)` and always end it with `shutdown()`.
public final class FakeLLMServer: Sendable {
    private let core: ServerCore
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let shutDown = NIOLockedValueBox(false)

    /// The port the server listens on (the ephemeral one picked when configured with 0).
    public let port: Int

    /// `http://HOST:PORT`, ready to prefix `/v1/...` paths.
    public var baseURL: String {
        let host = core.configuration.host
        return host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)"
    }

    private init(core: ServerCore, group: MultiThreadedEventLoopGroup, channel: any Channel, port: Int) {
        self.core = core
        self.group = group
        self.channel = channel
        self.port = port
    }

    /// Binds to `configuration.host:port` and starts serving on `System.coreCount` event loops.
    ///
    /// - Throws: the bind error (address in use, bad host); no threads are left behind then.
    public static func start(_ configuration: FakeLLMConfiguration = .init()) async throws -> FakeLLMServer {
        guard (0...65_535).contains(configuration.port) else {
            throw FakeLLMError.invalidAddress("port \(configuration.port) is out of range")
        }
        let core = ServerCore(configuration: configuration)
        let silent = configuration.silent
        let idleTimeout = configuration.idleTimeoutSeconds.map { TimeAmount.nanoseconds(Int64($0 * 1e9)) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, System.coreCount))
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.autoRead, value: !silent)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let idleTimeout {
                        try pipeline.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                        try pipeline.addHandler(IdleCloseHandler())
                    }
                    if silent {
                        try pipeline.addHandler(ConnectionCountingHandler(core: core))
                    } else {
                        try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                        try pipeline.addHandler(FakeHTTPHandler(core: core))
                    }
                }
            }
        do {
            let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
            guard let port = channel.localAddress?.port else {
                try? await channel.close()
                throw FakeLLMError.invalidAddress("the bound socket has no port")
            }
            return FakeLLMServer(core: core, group: group, channel: channel, port: port)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// The counters since start or the last reset (a copy; cheap unless records are huge).
    public func stats() -> FakeLLMStats {
        core.stats()
    }

    /// Zeroes counters and records. Open connections and in-flight requests (all, and admitted
    /// model requests) are gauges and keep their values; peaks restart from them. Connection ids keep counting.
    public func resetStats() {
        core.resetStats()
    }

    /// Suspends until `predicate` holds for the stats and returns those stats; the way a test
    /// awaits a server-side event (a disconnect seen, N requests in flight) without sleeping.
    ///
    /// - Throws: `FakeLLMError.statsWaitTimedOut` after `timeoutSeconds`, or `CancellationError`.
    @discardableResult
    public func waitForStats(
        timeoutSeconds: Double = 10, _ predicate: @escaping @Sendable (FakeLLMStats) -> Bool
    ) async throws -> FakeLLMStats {
        try await core.waitForStats(timeoutSeconds: timeoutSeconds, predicate)
    }

    /// Stops listening, closes every connection and stops the event loops. Safe to call twice.
    public func shutdown() async throws {
        let first = shutDown.withLockedValue { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        try? await channel.close()
        try await group.shutdownGracefully()
    }
}
