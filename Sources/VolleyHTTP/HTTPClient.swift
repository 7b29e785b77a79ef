import CCurl
import VolleySystem

/// An HTTP client on libcurl's multi interface: one dedicated thread owns one `CURLM` and
/// every transfer; callers talk to it through a command inbox.
///
/// - Connections are pooled per origin and reused; HTTP/2 is negotiated over TLS with ALPN and
///   multiplexed; plain `http://` is HTTP/1.1.
/// - Transfers wait in Swift (per origin, in arrival order) until the pool has room, so
///   libcurl never queues and timeouts measure real work.
/// - Cancelling the calling task aborts the transfer and frees its connection or stream.
///
/// Create one per process and share it. Call `shutdown()` when done.
public final class HTTPClient: Sendable {
    private let shared: LoopShared

    /// Runs Swift jobs on the transport thread; see `TransportExecutor`.
    public let executor: TransportExecutor

    /// Starts the transport thread.
    /// - Throws: `HTTPClientError` if libcurl cannot be initialised.
    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration()) throws(HTTPClientError) {
        guard CurlGlobal.initialized else {
            throw HTTPClientError(.other, "curl_global_init failed")
        }
        guard let multi = curl_multi_init() else {
            throw HTTPClientError(.other, "curl_multi_init failed")
        }
        var failures: [String] = []
        func setMulti(_ option: CURLMoption, _ value: Int) {
            let code = volley_multi_setopt_long(multi, option, value)
            if code != CURLM_OK { failures.append("\(option.rawValue): \(String(cString: curl_multi_strerror(code)))") }
        }
        setMulti(CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        setMulti(CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
        setMulti(CURLMOPT_MAX_TOTAL_CONNECTIONS, configuration.maxTotalConnections)
        setMulti(CURLMOPT_MAXCONNECTS, configuration.connectionCacheSize)
        setMulti(CURLMOPT_MAX_CONCURRENT_STREAMS, configuration.maxConcurrentStreams)
        guard failures.isEmpty else {
            curl_multi_cleanup(multi)
            throw HTTPClientError(.other, "curl_multi_setopt failed: \(failures.joined(separator: "; "))")
        }
        let selector: EventSelector
        do {
            selector = try EventSelector()
        } catch {
            curl_multi_cleanup(multi)
            throw error
        }
        let shared = LoopShared(waker: selector.waker)
        self.shared = shared
        let executor = TransportExecutor(shared: shared)
        self.executor = executor
        let handle = MultiHandle(pointer: multi)
        do {
            try DetachedThread.start(name: "volley-curl") {
                TransferLoop(shared: shared, multi: handle, selector: selector, executor: executor, configuration: configuration).run()
            }
        } catch {
            shared.enqueueShutdown()  // Closes the inbox first, so deinit touches no descriptor.
            selector.close()
            curl_multi_cleanup(multi)
            throw HTTPClientError(.other, "could not start the transport thread (pthread_create: \(errnoText(error.code)))")
        }
    }

    deinit {
        shared.enqueueShutdown()
    }

    /// Performs `request` and returns the whole response. Any status is a response; only
    /// transport failures throw.
    /// - Throws: `HTTPClientError` (`.cancelled` when the calling task is cancelled).
    public func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        let token = CancelToken()
        let shared = self.shared
        return try await withTaskCancellationHandler {
            // Unsafe rather than checked (which allocates a canary per call): the transport
            // resumes every transfer exactly once. A start either fails here (never enqueued)
            // or is enqueued; the loop then resumes it from exactly one place: failing a
            // waiting entry it removed, `end` (which first removes it from the live table),
            // or teardown (commands and entries it takes out). The transport tests check
            // every path: success, failure, cancel before and after start, shutdown.
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<HTTPResponse, any Error>) in
                let registered = token.register {
                    shared.enqueueStart(request, sink: .buffered(continuation))
                }
                if !registered {
                    continuation.resume(throwing: HTTPClientError(.cancelled, "the transfer was cancelled"))
                }
            }
        } onCancel: {
            token.cancel { shared.enqueueCancel($0) }
        }
    }

    /// Performs `request`, yielding the response as it arrives: `.head`, then body chunks
    /// (or, with `sse`, server-sent events of a 2xx response), then `.end`.
    ///
    /// Ending the iteration early (or cancelling the consuming task) aborts the transfer.
    /// With `sse`, a 2xx stream that ends without the terminal event throws
    /// `.streamTruncated`.
    public func stream(_ request: HTTPRequest, sse: SSEOptions? = nil) -> AsyncThrowingStream<HTTPStreamEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<HTTPStreamEvent, any Error>.makeStream()
        let token = CancelToken()
        let shared = self.shared
        continuation.onTermination = { termination in
            if case .cancelled = termination {
                token.cancel { shared.enqueueCancel($0) }
            }
        }
        let registered = token.register {
            shared.enqueueStart(request, sink: .stream(continuation, sse))
        }
        if !registered {
            continuation.finish(throwing: HTTPClientError(.cancelled, "the transfer was cancelled"))
        }
        return stream
    }

    /// Fails every waiting and running transfer with `.shutdown`, stops the transport
    /// thread and returns once it has exited. Later requests fail with `.shutdown`.
    public func shutdown() async {
        shared.enqueueShutdown()
        await shared.waitUntilStopped()
    }

    /// Counters of the pool since start.
    public var stats: HTTPPoolStats {
        HTTPPoolStats(
            connectionsOpened: shared.connectionsOpened.load(ordering: .relaxed),
            transfersOnReusedConnections: shared.transfersOnReusedConnections.load(ordering: .relaxed),
            transfersCompleted: shared.transfersCompleted.load(ordering: .relaxed),
            transfersRunning: shared.transfersRunning.load(ordering: .relaxed),
            transfersWaiting: shared.transfersWaiting.load(ordering: .relaxed),
            easyHandlesCreated: shared.easyHandlesCreated.load(ordering: .relaxed),
            eventLoopWakeups: shared.loopWakeups.load(ordering: .relaxed)
        )
    }
}

/// Counters of an `HTTPClient`'s pool.
public struct HTTPPoolStats: Sendable, Hashable {
    /// New connections that got as far as a response.
    public var connectionsOpened: Int
    /// Transfers that ran on an already open connection (pooled or multiplexed).
    public var transfersOnReusedConnections: Int
    /// Transfers ended for any reason (success, failure, cancellation).
    public var transfersCompleted: Int
    /// Transfers handed to libcurl and not yet ended.
    public var transfersRunning: Int
    /// Transfers waiting for room in their origin's pool.
    public var transfersWaiting: Int
    /// libcurl easy handles made; the rest of the transfers reused an idle one.
    public var easyHandlesCreated: Int
    /// Times the transport thread returned from waiting for sockets, timers or commands.
    public var eventLoopWakeups: Int
}

/// `curl_global_init` must run once, before any other libcurl call and before threads use it.
enum CurlGlobal {
    static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}
