import CVolleyLinux
import Logging
import VolleyCore
import VolleySystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A shared sidecar: the protocol on a Unix domain socket, one `Server` (and one engine
/// session) per connection, every connection on one engine, so one connection pool, one
/// scheduler and, per API key, one budget for every host of the machine
/// (`volley serve --socket PATH`, `--shared`; docs/protocol.md, "Shared mode").
///
/// Safe by default: the socket's directory must be the user's own and closed to others (made
/// 0700 when missing), the socket is 0600, a peer running as another user is refused
/// (SO_PEERCRED), and one daemon serves a path: it holds an exclusive lock on `PATH.lock` for
/// its life, so a socket file found without that lock held is a dead daemon's and is replaced,
/// and a live daemon's is never taken.
///
/// Threads: one accepts connections (poll on the socket and a wake-up eventfd); each
/// connection has its `Server`'s reader and writer; signals arrive through `SignalPipe`.
public final class SocketDaemon: Sendable {
    /// Why the daemon could not start: its exit code (2 unusable path or directory, 3 another
    /// daemon serves the path, 1 anything else) and what to tell the user.
    public struct StartError: Error, Sendable {
        public var exitCode: Int32
        public var message: String
    }

    private enum Event: Sendable {
        case signal(Int32)
        case connectionEnded
        case idleCheck(UInt64)
        case acceptFailed(Int32)
    }

    private struct Open {
        let server: Server
        let pid: Int32
    }

    private struct State {
        var open: [UInt64: Open] = [:]
        /// Changes at every connection opened or closed (an idle check from before is stale).
        var generation: UInt64 = 0
        var stopping = false
    }

    let engine: Engine
    let options: ServerOptions
    let logger: Logger
    public let path: String
    let idleExitSeconds: Double?
    private let state = Locked(State())
    private let events: AsyncStream<Event>
    private let sink: AsyncStream<Event>.Continuation

    public init(engine: Engine, options: ServerOptions, logger: Logger, path: String, idleExitSeconds: Double?) {
        self.engine = engine
        self.options = options
        self.logger = logger
        self.path = path
        self.idleExitSeconds = idleExitSeconds
        (events, sink) = AsyncStream<Event>.makeStream()
    }

    /// The socket a shared sidecar uses when none is named: `$VOLLEY_SOCKET`, else
    /// `$XDG_RUNTIME_DIR/volley/volley.sock`, else `/tmp/volley-<uid>/volley.sock`. The
    /// clients compute the same.
    public static func defaultPath(environment: [String: String]) -> String {
        if let path = environment["VOLLEY_SOCKET"], !path.isEmpty { return path }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { return "\(runtime)/volley/volley.sock" }
        return "/tmp/volley-\(geteuid())/volley.sock"
    }

    /// Serves until SIGTERM/SIGINT (every connection's work cancelled and answered) or, with
    /// an idle exit, until no host has been connected for that long. Returns the exit code.
    public func run() async -> Int32 {
        let listenFD: Int32
        do {
            try Self.prepareDirectory(of: path)
            try Self.lock(path)
            try Self.removeStaleSocket(path)
            listenFD = volley_unix_listen(path, 128)
            if listenFD < 0 { throw StartError(exitCode: 1, message: "cannot listen on \(path): \(describe(-listenFD))") }
        } catch let error as StartError {
            writeToStandardError("volley: \(error.message)\n")
            return error.exitCode
        } catch {
            return 1
        }
        let wakeFD = volley_eventfd_create()
        do {
            let sink = self.sink
            try SignalPipe.install { sink.yield(.signal($0)) }
            try DetachedThread.start(name: "volley-accept") { [self] in acceptLoop(listenFD: listenFD, wakeFD: wakeFD) }
        } catch {
            logger.critical("cannot start: \(error)")
            unlink(path)
            return 1
        }
        logger.info("volley serving", metadata: ["version": "\(options.version)", "socket": "\(path)"])
        scheduleIdleCheck(generation: 0)
        var code: Int32 = 0
        loop: for await event in events {
            switch event {
            case .signal(let number):
                logger.notice("signal \(number): cancelling every connection's work")
                let open = beginStopping(wakeFD: wakeFD)
                if open.isEmpty { break loop }
                for server in open { server.stop(signal: number) }
            case .acceptFailed(let errno):
                logger.error("accepting connections failed (\(describe(errno))); stopping")
                code = 1
                let open = beginStopping(wakeFD: wakeFD)
                if open.isEmpty { break loop }
                for server in open { server.stop(signal: SIGTERM) }
            case .connectionEnded:
                let (stopping, idle, generation) = state.withLock { ($0.stopping, $0.open.isEmpty, $0.generation) }
                if stopping, idle { break loop }
                if idle { scheduleIdleCheck(generation: generation) }
            case .idleCheck(let generation):
                let idle = state.withLock { $0.open.isEmpty && $0.generation == generation && !$0.stopping }
                if idle {
                    logger.info("no connection for \(idleExitSeconds ?? 0) s: exiting")
                    _ = beginStopping(wakeFD: wakeFD)
                    break loop
                }
            }
        }
        // The lock is still ours, so the file is too: hosts that come later find no socket
        // and start a daemon of their own. (The process exits next; the accept thread with it.)
        unlink(path)
        return code
    }

    /// Stops accepting and returns the connections to end.
    private func beginStopping(wakeFD: Int32) -> [Server] {
        volley_eventfd_signal(wakeFD)
        return state.withLock { state in
            state.stopping = true
            return state.open.values.map(\.server)
        }
    }

    private func scheduleIdleCheck(generation: UInt64) {
        guard let seconds = idleExitSeconds else { return }
        let sink = self.sink
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            sink.yield(.idleCheck(generation))
        }
    }

    // MARK: - Connections (accept thread)

    private func acceptLoop(listenFD: Int32, wakeFD: Int32) {
        while true {
            let fd = volley_unix_accept(listenFD, wakeFD, -1)
            if fd >= 0 {
                accept(fd)
                continue
            }
            switch -fd {
            case ECANCELED:
                return
            case EAGAIN:
                continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                // Out of descriptors or memory: the waiting connection stays queued; try again
                // shortly rather than spin on a socket that stays readable.
                logger.warning("cannot accept a connection (\(describe(-fd))); retrying")
                usleep(100_000)
            default:
                sink.yield(.acceptFailed(-fd))
                return
            }
        }
    }

    private func accept(_ fd: Int32) {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        let status = volley_unix_peer(fd, &pid, &uid)
        guard status == 0, uid == geteuid() else {
            let who = status == 0 ? "uid \(uid) (pid \(pid))" : "an unknown peer (\(describe(status)))"
            logger.warning("refused a connection from \(who): only uid \(geteuid()) may use this sidecar")
            let refusal = RPCEncoder.errorResponse(id: .null, error: RPCError(
                code: .connectionRefused, message: "this volley daemon serves uid \(geteuid()) only; connect as that user or start your own"))
            (refusal + [0x0A]).withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }
            close(fd)
            return
        }
        let session = engine.makeSession()
        var connectionLogger = logger
        connectionLogger[metadataKey: "connection"] = "\(session.id)"
        let context = ConnectionContext(id: session.id, connections: { [self] in connectionsJSON() })
        let server = Server(engine: engine, session: session, options: options, logger: connectionLogger,
                            inputFD: fd, outputFD: fd, connection: context)
        let accepted = state.withLock { state -> Bool in
            guard !state.stopping else { return false }
            state.open[session.id] = Open(server: server, pid: pid)
            state.generation += 1
            return true
        }
        guard accepted else {
            close(fd)
            engine.close(session)
            return
        }
        connectionLogger.debug("host connected", metadata: ["pid": "\(pid)"])
        Task {
            await server.serveConnection()
            state.withLock { state in
                state.open[session.id] = nil
                state.generation += 1
            }
            connectionLogger.debug("host disconnected")
            sink.yield(.connectionEnded)
        }
    }

    /// `stats.connections`.
    private func connectionsJSON() -> JSONValue {
        let open = state.withLock { $0.open.sorted { $0.key < $1.key } }
        return .array(open.map { id, connection in
            [
                "id": .number(JSONNumber(id)),
                "pid": .number(JSONNumber(connection.pid)),
                "client": connection.server.clientName.withLock { $0 }.map(JSONValue.string) ?? .null,
                "items_pending": .number(JSONNumber(connection.server.session.itemsPending)),
                "requests_running": .number(JSONNumber(connection.server.registry.runningCount)),
            ]
        })
    }

    // MARK: - Start-up checks

    /// Makes the socket's directory (0700) when missing; refuses one that is not a directory,
    /// not the user's own, or open to others.
    static func prepareDirectory(of path: String) throws(StartError) {
        guard !path.isEmpty else { throw StartError(exitCode: 2, message: "the socket path is empty") }
        let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        if mkdir(directory, 0o700) != 0, errno != EEXIST {
            throw StartError(exitCode: 2, message: "cannot create the socket's directory \(directory): \(describe(errno))")
        }
        var info = stat()
        guard lstat(directory, &info) == 0 else {
            throw StartError(exitCode: 2, message: "cannot read the socket's directory \(directory): \(describe(errno))")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw StartError(exitCode: 2, message: "the socket's directory \(directory) is not a directory (a link is not accepted)")
        }
        guard info.st_uid == geteuid() else {
            throw StartError(exitCode: 2, message: "the socket's directory \(directory) belongs to uid \(info.st_uid), not to uid \(geteuid())")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw StartError(exitCode: 2, message: "the socket's directory \(directory) is open to other users (mode \(String(info.st_mode & 0o777, radix: 8))); it must be 0700")
        }
    }

    /// Takes `PATH.lock` for the life of the process (the descriptor is never closed).
    static func lock(_ path: String) throws(StartError) {
        let lockPath = path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw StartError(exitCode: 2, message: "cannot open \(lockPath): \(describe(errno))") }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let code = errno
            close(fd)
            if code == EWOULDBLOCK { throw StartError(exitCode: 3, message: "another volley daemon serves \(path)") }
            throw StartError(exitCode: 1, message: "cannot lock \(lockPath): \(describe(code))")
        }
    }

    /// With the lock held, a socket file at `path` is a dead daemon's: removed. Anything else
    /// there (a file, a server that is not a volley daemon) is left alone and refused.
    static func removeStaleSocket(_ path: String) throws(StartError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw StartError(exitCode: 2, message: "\(path) exists and is not a socket; not replacing it")
        }
        let probe = volley_unix_connect(path)
        if probe >= 0 {
            close(probe)
            throw StartError(exitCode: 3, message: "a server that holds no volley lock is listening on \(path); not replacing it")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw StartError(exitCode: 2, message: "cannot remove the stale socket \(path): \(describe(errno))")
        }
    }
}

private func describe(_ code: Int32) -> String {
    String(cString: strerror(code))
}
