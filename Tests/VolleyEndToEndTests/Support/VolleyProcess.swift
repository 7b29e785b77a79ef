import Foundation
import Synchronization
import VolleyCore
import VolleySystem
import VolleyTestSupport
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// How the sidecar ended.
enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)

    var description: String {
        switch self {
        case .exited(let code): "exit code \(code)"
        case .signalled(let signal): "killed by signal \(signal)"
        }
    }
}

/// One spawned `volley` process and its three pipes.
///
/// stdout is read on its own thread (blocking `read(2)`, split on `\n`) into ``stdout``; stderr is
/// always drained on another thread into ``stderrBytes`` so the child never blocks on it. The
/// test writes stdin with ``send(_:)`` and closes it with ``closeStdin()``.
final class VolleyProcess: Sendable {
    let pid: Int32
    let stdout: OutputLog
    let arguments: [String]

    private let stdin: StdinWriter
    private let stderrData = ByteBuffer()
    private let stdoutClosed = Latch<Void>(name: "stdout EOF")
    private let stderrClosed = Latch<Void>(name: "stderr EOF")
    private let exitStatus = Latch<ExitStatus>(name: "process exit")
    /// Signalled once to let a reader started with `readStdout: false` begin.
    private let stdoutGate = DispatchSemaphore(value: 0)
    private let stdoutGateOpen = Atomic<Bool>(false)
    /// Set before opening the gate to close stdout's read end instead of reading it.
    private let discardingStdout = Flag()

    /// Spawns the binary.
    ///
    /// - Parameters:
    ///   - arguments: command-line arguments (`serve` is the default subcommand).
    ///   - environment: added to a clean copy of the test's environment, from which
    ///     `OPENAI_API_KEY` and `ANTHROPIC_API_KEY` are removed so only `mock` exists by default.
    ///   - readStdout: `false` leaves stdout unread (the pipe fills) until ``startReadingStdout()``.
    ///   - softOpenFilesLimit: started through `sh -c 'ulimit -Sn N; exec volley ...'`, with this
    ///     soft limit on open files (same pid: the shell execs the sidecar).
    ///   - launcher: a command the sidecar is started through, which must end by exec'ing its
    ///     first argument after it with the rest (so the pid is the sidecar's), e.g.
    ///     ``openFilesLimit(_:)``.
    init(arguments: [String] = [], environment: [String: String] = [:], readStdout: Bool = true,
         softOpenFilesLimit: Int? = nil, launcher: [String]? = nil) throws {
        ignoreSIGPIPEInTests()
        let binary = try BuiltExecutable.volley()
        var env = ProcessInfo.processInfo.environment
        env["OPENAI_API_KEY"] = nil
        env["ANTHROPIC_API_KEY"] = nil
        for (key, value) in environment { env[key] = value }

        let exitStatus = self.exitStatus
        let (pid, stdinFD, stdoutFD, stderrFD) = try spawnLock.withLock { _ -> (Int32, Int32, Int32, Int32) in
            // One spawn at a time, pipes created inside: the child of a concurrent spawn must never
            // inherit another sidecar's pipe ends (Foundation's pipes are not close-on-exec; a
            // leaked stdin write end would keep that sidecar from ever seeing EOF).
            let input = Pipe(), output = Pipe(), errors = Pipe()
            let process = Process()
            let softLimit = softOpenFilesLimit.map { limit in ["/bin/sh", "-c", "ulimit -Sn \(limit) && exec \"$0\" \"$@\""] }
            if let launcher = launcher ?? softLimit, let command = launcher.first {
                process.executableURL = URL(fileURLWithPath: command)
                process.arguments = Array(launcher.dropFirst()) + [binary.path] + arguments
            } else {
                process.executableURL = binary
                process.arguments = arguments
            }
            process.environment = env
            process.standardInput = input
            process.standardOutput = output
            process.standardError = errors
            process.terminationHandler = { process in
                switch process.terminationReason {
                case .exit: exitStatus.set(.exited(process.terminationStatus))
                case .uncaughtSignal: exitStatus.set(.signalled(process.terminationStatus))
                @unknown default: exitStatus.set(.exited(process.terminationStatus))
                }
            }
            try process.runKeepingReference()
            // Own close-on-exec descriptors (the FileHandles are closed), so closing stdin is one
            // close(2) and no later child inherits them.
            let stdinFD = fcntl(input.fileHandleForWriting.fileDescriptor, F_DUPFD_CLOEXEC, 0)
            let stdoutFD = fcntl(output.fileHandleForReading.fileDescriptor, F_DUPFD_CLOEXEC, 0)
            let stderrFD = fcntl(errors.fileHandleForReading.fileDescriptor, F_DUPFD_CLOEXEC, 0)
            try? input.fileHandleForWriting.close()
            try? output.fileHandleForReading.close()
            try? errors.fileHandleForReading.close()
            guard stdinFD >= 0, stdoutFD >= 0, stderrFD >= 0 else {
                Glibc.kill(process.processIdentifier, SIGKILL)
                throw HarnessError("duplicating the pipes failed: errno \(errno)")
            }
            return (process.processIdentifier, stdinFD, stdoutFD, stderrFD)
        }
        self.pid = pid
        self.arguments = arguments
        self.stdout = OutputLog(name: "stdout of volley \(arguments.joined(separator: " "))")
        self.stdin = StdinWriter(fd: stdinFD)

        let log = stdout, stdoutClosed = self.stdoutClosed, gate = stdoutGate
        let startPaused = !readStdout
        let discarding = discardingStdout
        Thread.detachNewThread {
            if startPaused { gate.wait() }
            if !discarding.isSet {
                readLines(fd: stdoutFD, into: { log.append($0) })
            }
            log.close()
            close(stdoutFD)
            stdoutClosed.set(())
        }
        let stderrData = self.stderrData, stderrClosed = self.stderrClosed
        Thread.detachNewThread {
            readChunks(fd: stderrFD) { chunk in stderrData.append(chunk) }
            close(stderrFD)
            stderrClosed.set(())
        }
        if readStdout { stdoutGateOpen.store(true, ordering: .relaxed) }
    }

    /// A launcher that sets the soft and the hard limit on open files to `count`
    /// (`ulimit -n`), so the sidecar cannot raise it.
    static func openFilesLimit(_ count: Int) -> [String] {
        ["/bin/sh", "-c", "ulimit -n \(count) && exec \"$0\" \"$@\""]
    }

    // MARK: - stdin

    /// Writes `value` as one line.
    func send(_ value: JSONValue) throws {
        var bytes = value.jsonBytes
        bytes.append(0x0A)
        try sendBytes(bytes)
    }

    /// Writes `text` followed by `\n`.
    func sendLine(_ text: String) throws {
        try sendBytes(Array(text.utf8) + [0x0A])
    }

    /// Queues raw bytes for stdin (the caller adds newlines). Never blocks: a thread of the
    /// harness writes them, in order, so a sidecar that is slow to read (or stopped reading)
    /// never holds up a thread of Swift concurrency's small pool.
    func sendBytes(_ bytes: [UInt8]) throws {
        guard stdin.enqueue(bytes) else { throw HarnessError("stdin is already closed") }
    }

    /// Closes stdin once everything queued before has been written (the sidecar then sees EOF).
    /// Safe to call twice.
    func closeStdin() {
        stdin.close()
    }

    // MARK: - stdout

    /// Lets a process spawned with `readStdout: false` be read from now on.
    func startReadingStdout() {
        guard !stdoutGateOpen.exchange(true, ordering: .relaxed) else { return }
        stdoutGate.signal()
    }

    /// For a process spawned with `readStdout: false`: closes the read end of its stdout
    /// without reading, so its next write fails with EPIPE. Returns once the end is closed.
    func discardStdout() async throws {
        guard !stdoutGateOpen.load(ordering: .relaxed) else {
            throw HarnessError("discardStdout() needs a process spawned with readStdout: false")
        }
        discardingStdout.set()
        startReadingStdout()
        try await stdoutClosed.wait()
    }

    /// Sends a request and waits for its response (the first line with its id written after
    /// the request was sent, so ids may be reused).
    @discardableResult
    func request(_ method: String, id: JSONValue, params: JSONValue? = nil, timeout: Double = defaultTimeoutSeconds) async throws -> JSONValue {
        let start = stdout.count
        try send(rpcRequest(method, id: id, params: params))
        let index = try await responseIndex(to: id, from: start, timeout: timeout)
        return try requireValue(stdout.lines[index].value)
    }

    /// Sends a notification.
    func notify(_ method: String, params: JSONValue? = nil) throws {
        var object: JSONObject = ["jsonrpc": "2.0", "method": .string(method)]
        if let params { object["params"] = params }
        try send(.object(object))
    }

    /// Waits for the response (a `result` or an `error`) whose `id` is `id`.
    func response(to id: JSONValue, timeout: Double = defaultTimeoutSeconds) async throws -> JSONValue {
        let index = try await responseIndex(to: id, timeout: timeout)
        return try requireValue(stdout.lines[index].value)
    }

    /// The line index of the response to `id`.
    func responseIndex(to id: JSONValue, from start: Int = 0, timeout: Double = defaultTimeoutSeconds) async throws -> Int {
        try await stdout.waitFor(from: start, timeout: timeout, "the response to id \(id.jsonString)") { value in
            isResponse(value, id: id)
        }
    }

    /// Waits for the next line at or after `index` and returns it parsed.
    func line(at index: Int, timeout: Double = defaultTimeoutSeconds) async throws -> JSONValue {
        let found = try await stdout.waitFor(from: index, timeout: timeout, "line \(index)") { _ in true }
        guard found == index else { throw HarnessError("expected line \(index), found \(found)") }
        return try requireValue(stdout.lines[index].value)
    }

    // MARK: - stderr

    var stderrBytes: [UInt8] { stderrData.bytes }
    var stderrText: String { String(decoding: stderrBytes, as: UTF8.self) }

    // MARK: - Lifecycle

    /// Waits for the process to exit and for stdout and stderr to reach EOF, so the transcript
    /// is complete.
    func waitForExit(timeout: Double = defaultTimeoutSeconds) async throws -> ExitStatus {
        let status = try await exitStatus.wait(timeout: timeout)
        try await stdoutClosed.wait(timeout: timeout)
        try await stderrClosed.wait(timeout: timeout)
        return status
    }

    var hasExited: Bool { exitStatus.value != nil }

    /// Sends `signal` to the process.
    func signal(_ signal: Int32) {
        guard !hasExited else { return }
        _ = Glibc.kill(pid, signal)
    }

    /// Cleanup for `defer`: closes stdin and SIGKILLs the process if it is still running.
    func terminate() {
        closeStdin()
        startReadingStdout()
        signal(SIGKILL)
    }

    // MARK: - /proc

    /// VmRSS in KiB, from `/proc/PID/status`.
    func residentKiB() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.dropFirst("VmRSS:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }

    /// Whether one of the process's threads is blocked writing to its stdout (fd 1), from
    /// `/proc/PID/task/*/syscall`; `nil` when that cannot be read on this system.
    func isBlockedWritingStdout() -> Bool? {
        ProcessProbe.isBlockedWriting(pid: pid, fd: 1)
    }

    /// Whether every thread of the process is asleep (state `S` in `/proc/PID/task/*/stat`):
    /// none is running or waiting for a CPU. `nil` when that cannot be read.
    func allThreadsSleeping() -> Bool? {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task"), !tasks.isEmpty else { return nil }
        for task in tasks {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { continue }
            let state = text[text.index(after: close)...].split(separator: " ").first
            if state != "S" { return false }
        }
        return true
    }

    /// User + system CPU time in clock ticks, from `/proc/PID/stat`.
    func cpuTicks() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after the command name start at field 3 (state); utime and stime are 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return user + system
    }
}

// MARK: - Helpers

/// Serialises spawning (see ``VolleyProcess/init(arguments:environment:readStdout:)``).
private let spawnLock = Locked<Void>(())

/// Builds `{"jsonrpc":"2.0","id":ID,"method":METHOD,"params":PARAMS}`.
func rpcRequest(_ method: String, id: JSONValue, params: JSONValue? = nil) -> JSONValue {
    var object: JSONObject = ["jsonrpc": "2.0", "id": id, "method": .string(method)]
    if let params { object["params"] = params }
    return .object(object)
}

/// Whether `value` is a response (not a notification) carrying `id`.
func isResponse(_ value: JSONValue, id: JSONValue) -> Bool {
    guard case .object(let object) = value, object["method"] == nil else { return false }
    guard object["result"] != nil || object["error"] != nil else { return false }
    return object["id"] == id
}

/// Unwraps an optional or throws, for values the harness itself just checked.
func requireValue<T>(_ value: T?, _ what: String = "value") throws -> T {
    guard let value else { throw HarnessError("missing \(what)") }
    return value
}

private let sigpipeIgnored: Void = {
    _ = Glibc.signal(SIGPIPE, SIG_IGN)
}()

/// Writing to a sidecar that has exited must fail with EPIPE, not kill the test runner.
func ignoreSIGPIPEInTests() {
    _ = sigpipeIgnored
}
