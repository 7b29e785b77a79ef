import CVolleyLinux
import Logging
import Synchronization
import VolleyCore
import VolleySystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The sidecar: JSON-RPC 2.0 in front of the engine, for one host: over stdin/stdout (`run()`,
/// the process's one host), or over one connection of a shared sidecar's socket
/// (`serveConnection()`, started by `SocketDaemon`, one `Server` per connection, each with its
/// own engine session).
///
/// Threads: one reader (stdin), one writer (stdout), the transport's curl thread, and Swift
/// tasks for requests. The reader decodes each line and starts a task per request, registering
/// cancellable ones before it reads the next line, so a `cancel` that follows a request always
/// finds it. Everything written goes through the one `FrameWriter`.
public final class Server: Sendable {
    /// What ends `run()`.
    enum Event: Sendable {
        case inputClosed
        case exitNotification
        case signal(Int32)
        case outputBroken(Int32)
    }

    let engine: Engine
    /// The host's providers and limiter wants.
    let session: EngineSession
    let options: ServerOptions
    let logger: Logger
    let registry = RequestRegistry()
    /// Set when this serves one connection of a shared sidecar.
    let connection: ConnectionContext?
    /// The `client` the host named in `initialize` (for `stats.connections`).
    let clientName = Locked<String?>(nil)
    private let writer: FrameWriter
    private let readerBox = ReaderBox()
    private let inputFD: Int32
    private let events: AsyncStream<Event>
    private let eventSink: AsyncStream<Event>.Continuation
    /// True once a `shutdown` request has been accepted: `exit` then ends with 0 (as in LSP:
    /// "received", not "answered", so `shutdown` and `exit` sent back to back exit 0 whatever
    /// the timing; the exit path still writes shutdown's answer).
    private let shutdownRequested = Atomic<Bool>(false)
    /// Set once the reader has seen the end of its input (or failed): its thread then touches
    /// the descriptor no more.
    private let readerEnded = Locked<(ended: Bool, waiters: Waiters<Void>)>((false, Waiters()))

    public convenience init(engine: Engine, options: ServerOptions, logger: Logger,
                            inputFD: Int32 = STDIN_FILENO, outputFD: Int32 = STDOUT_FILENO) {
        self.init(engine: engine, session: engine.mainSession, options: options, logger: logger,
                  inputFD: inputFD, outputFD: outputFD, connection: nil)
    }

    init(engine: Engine, session: EngineSession, options: ServerOptions, logger: Logger,
         inputFD: Int32, outputFD: Int32, connection: ConnectionContext?) {
        self.engine = engine
        self.session = session
        self.options = options
        self.logger = logger
        self.connection = connection
        (events, eventSink) = AsyncStream<Event>.makeStream()
        self.inputFD = inputFD
        let readerBox = self.readerBox
        let eventSink = self.eventSink
        writer = FrameWriter(
            fd: outputFD,
            onHighWatermark: {
                // The host is not reading: stop reading its input and starting its new items.
                readerBox.reader?.pause()
                engine.setAdmissionPaused(true, session: session)
            },
            onLowWatermark: {
                readerBox.reader?.resume()
                engine.setAdmissionPaused(false, session: session)
            },
            onBroken: { errno in eventSink.yield(.outputBroken(errno)) }
        )
    }

    /// Serves until stdin ends (after finishing all work), `exit`, a signal or a broken stdout.
    /// Returns the process exit code.
    public func run() async -> Int32 {
        do {
            let sink = eventSink
            try SignalPipe.install { sink.yield(.signal($0)) }
        } catch {
            logger.critical("cannot install signal handlers: \(error)")
            return 1
        }
        logger.info("volley serving", metadata: ["version": "\(options.version)"])
        return await serve()
    }

    /// Serves one connection of a shared sidecar until its host leaves, sends `exit`, its
    /// output breaks or `stop(signal:)` is called; then ends the connection: its reader and
    /// writer threads are done with the descriptor, which is closed, and its session closed.
    func serveConnection() async {
        _ = await serve()
        registry.beginShutdown()
        writer.finish()
        // Wakes a reader blocked in read(2) (it then sees end of input) or parked by
        // backpressure; only once it has stopped is the descriptor closed, so a later
        // connection given the same number is never read by this one's thread.
        _ = shutdown(inputFD, Int32(SHUT_RDWR))
        readerBox.reader?.resume()
        if readerBox.reader != nil {
            await readerEnded.wait(until: { $0.ended ? () : nil }, park: { $0.waiters.append($1) })
        }
        await writer.stopped()
        close(inputFD)
        engine.close(session)
    }

    /// Ends the connection as a signal ends the process: its work is cancelled and answered.
    func stop(signal: Int32) {
        eventSink.yield(.signal(signal))
    }

    /// Starts the reader and writer and handles events until one ends the session; returns the
    /// exit code a stdio process ends with.
    private func serve() async -> Int32 {
        let reader = LineReader(fd: inputFD, maxLineBytes: options.maxLineBytes) { event in
            self.receive(event)
        }
        readerBox.reader = reader
        do {
            try writer.start()
            try reader.start()
        } catch {
            logger.critical("cannot start I/O threads: \(error)")
            // No reader thread runs (reader.start() is the last step): nothing to wait for.
            markReaderEnded()
            return 1
        }
        for await event in events {
            switch event {
            case .inputClosed:
                if connection != nil, volley_unix_peer_gone(inputFD) != 0 {
                    // The host closed its socket: nobody can read the answers any more.
                    logger.debug("host disconnected; cancelling its work")
                    registry.beginShutdown()
                    registry.cancelAll()
                } else {
                    logger.debug("input closed; finishing work in flight")
                }
                await registry.waitUntilQuiet()
                _ = await writer.flush()
                return 0
            case .exitNotification:
                let code: Int32 = shutdownRequested.load(ordering: .acquiring) ? 0 : 1
                registry.cancelAll()
                await registry.waitUntilQuiet()
                _ = await writer.flush()
                return code
            case .signal(let number):
                logger.notice("signal \(number): cancelling all work")
                registry.beginShutdown()
                registry.cancelAll()
                await registry.waitUntilQuiet()
                _ = await writer.flush()
                return 0
            case .outputBroken(let errno):
                logger.error("output is broken (errno \(errno)); cancelling all work")
                registry.beginShutdown()
                registry.cancelAll()
                // A connection's session closes after this: let its cancelled work end first.
                if connection != nil { await registry.waitUntilQuiet() }
                return 1
            }
        }
        return 0
    }

    // MARK: - Input (reader thread)

    private func receive(_ event: LineEvent) {
        switch event {
        case .line(let line):
            let calls = RPCDecoder.decode(line: line).route { [writer] reply in _ = writer.enqueue(reply) }
            for call in calls { dispatch(call) }
        case .tooLong(let byteCount):
            _ = writer.enqueue(RPCEncoder.errorResponse(
                id: .null, error: .lineTooLong(byteCount: byteCount, maxLineBytes: options.maxLineBytes)))
        case .eof:
            markReaderEnded()
            eventSink.yield(.inputClosed)
        case .readError(let errno):
            markReaderEnded()
            logger.error("reading input failed (errno \(errno)); finishing work in flight")
            eventSink.yield(.inputClosed)
        }
    }

    private func markReaderEnded() {
        readerEnded.withLock { state in
            state.ended = true
            return state.waiters.takeAll()
        }.resume()
    }

    private func dispatch(_ call: RPCCall) {
        switch call {
        case .notification(let method, let params):
            handleNotification(method, params)
        case .request(let name, let params, let responder):
            let method = RPCMethod(name)
            if registry.isShuttingDown, method != .other(.exit) {
                responder.respond(error: .invalidRequest("the server is shutting down"))
                return
            }
            if case .cancellable(let cancellable)? = method {
                // Handed over, not captured: a big batch's tree is freed once its items are
                // prepared, not when the batch ends.
                let handoff = Handoff(params)
                let result = registry.start(responder.id) { release in
                    await self.handleCancellable(cancellable, handoff.take() ?? nil, responder, release: release)
                }
                switch result {
                case .started: break
                case .idInUse: responder.respond(error: .invalidRequest("id \(responder.id) is already in use by a running request"))
                case .shuttingDown: responder.respond(error: .invalidRequest("the server is shutting down"))
                }
            } else if registry.isRunning(responder.id) {
                // Its reply would carry the same id as the running request's: a host could not
                // tell them apart (protocol: an id in use is -32600 for any request).
                responder.respond(error: .invalidRequest("id \(responder.id) is already in use by a running request"))
            } else if method == .shutdown {
                // Refusing later requests starts here, on the reader thread, so that every line
                // read after `shutdown` gets -32600; the task only waits for the work to settle.
                startShutdown(params, responder)
            } else if case .other(let other)? = method, other.changesConfiguration {
                // Applied before the next line is read, so every request after it (a gather
                // naming the provider it adds, say) sees the new configuration.
                handleOther(other, params, responder)
            } else if case .other(let other)? = method {
                registry.startOther { self.handleOther(other, params, responder) }
            } else {
                registry.startOther { responder.respond(error: .methodNotFound(name)) }
            }
        }
    }

    private func handleNotification(_ method: String, _ params: JSONValue?) {
        switch RPCMethod(method) {
        case .other(.exit)?:
            handleNotificationExit()
        case .other(.cancel)?:
            if let id = params?["id"].flatMap(RPCID.init) { _ = registry.cancel(id) }
        default:
            logger.debug("ignoring notification", metadata: ["method": "\(method)"])
        }
    }

    // MARK: - Output

    func send(_ frame: [UInt8]) {
        _ = writer.enqueue(frame)
    }

    /// Bytes written to the host's queue and not yet read by it.
    var outboundBytes: Int { writer.queuedBytes }

    func handleNotificationExit() {
        eventSink.yield(.exitNotification)
    }

    func markShutdownRequested() {
        shutdownRequested.store(true, ordering: .releasing)
    }
}

/// Lets the writer's watermark callbacks reach the reader created later in `run()`.
final class ReaderBox: Sendable {
    private let value = Locked<LineReader?>(nil)

    var reader: LineReader? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
