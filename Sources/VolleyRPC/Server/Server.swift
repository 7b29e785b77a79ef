import Logging
import Synchronization
import VolleyCore
import VolleySystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The sidecar: JSON-RPC 2.0 over stdin/stdout in front of the engine.
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
    let options: ServerOptions
    let logger: Logger
    let registry = RequestRegistry()
    private let writer: FrameWriter
    private let readerBox = ReaderBox()
    private let inputFD: Int32
    private let events: AsyncStream<Event>
    private let eventSink: AsyncStream<Event>.Continuation
    /// True once a `shutdown` request has been accepted: `exit` then ends with 0 (as in LSP:
    /// "received", not "answered", so `shutdown` and `exit` sent back to back exit 0 whatever
    /// the timing; the exit path still writes shutdown's answer).
    private let shutdownRequested = Atomic<Bool>(false)

    public init(engine: Engine, options: ServerOptions, logger: Logger,
                inputFD: Int32 = STDIN_FILENO, outputFD: Int32 = STDOUT_FILENO) {
        self.engine = engine
        self.options = options
        self.logger = logger
        (events, eventSink) = AsyncStream<Event>.makeStream()
        self.inputFD = inputFD
        let readerBox = self.readerBox
        let eventSink = self.eventSink
        writer = FrameWriter(
            fd: outputFD,
            onHighWatermark: {
                // The host is not reading: stop reading its input and starting new items.
                readerBox.reader?.pause()
                engine.setAdmissionPaused(true)
            },
            onLowWatermark: {
                readerBox.reader?.resume()
                engine.setAdmissionPaused(false)
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
        let reader = LineReader(fd: inputFD, maxLineBytes: options.maxLineBytes) { event in
            self.receive(event)
        }
        readerBox.reader = reader
        do {
            try writer.start()
            try reader.start()
        } catch {
            logger.critical("cannot start I/O threads: \(error)")
            return 1
        }
        logger.info("volley serving", metadata: ["version": "\(options.version)"])
        for await event in events {
            switch event {
            case .inputClosed:
                logger.debug("stdin closed; finishing work in flight")
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
                logger.error("stdout is broken (errno \(errno)); cancelling all work")
                registry.beginShutdown()
                registry.cancelAll()
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
            eventSink.yield(.inputClosed)
        case .readError(let errno):
            logger.error("reading stdin failed (errno \(errno)); finishing work in flight")
            eventSink.yield(.inputClosed)
        }
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
                let result = registry.start(responder.id) { release in
                    await self.handleCancellable(cancellable, params, responder, release: release)
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

    func handleNotificationExit() {
        eventSink.yield(.exitNotification)
    }

    func markShutdownRequested() {
        shutdownRequested.store(true, ordering: .releasing)
    }
}

/// Lets the writer's watermark callbacks reach the reader created later in `run()`.
final class ReaderBox: Sendable {
    private let value = Mutex<LineReader?>(nil)

    var reader: LineReader? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
