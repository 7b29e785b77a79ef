import Foundation
import VolleySystem

/// A throwaway `redis-server` on 127.0.0.1 and a free port, no persistence, for the shared-limits
/// tests (scripts/install-deps --test installs it). Stop it with `stop()` (or `kill()`, as a
/// crash); `restart()` brings one back on the same port.
public final class RedisProcess: Sendable {
    public let port: Int
    public let password: String?
    private let process: Locked<Process?>
    /// Signalled when the process has exited (Foundation's `waitUntilExit` spins a run loop
    /// that a Swift concurrency thread never services: it never returned there).
    private let exited = DispatchSemaphore(value: 0)

    public init(password: String? = nil, port: Int? = nil) throws {
        guard let server = TestTools.which("redis-server") else {
            throw NginxProcess.Failure.missingTool("redis-server")
        }
        let port = try port ?? TestTools.freePort()
        var arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                         "--daemonize", "no", "--loglevel", "warning"]
        if let password { arguments += ["--requirepass", password] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: server)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        try process.runKeepingReference()
        var listening = false
        for _ in 0..<500 where process.isRunning {
            if TestTools.canConnect(port: port) {
                listening = true
                break
            }
            usleep(10_000)
        }
        guard listening else {
            if process.isRunning { process.terminate() }
            _ = exited.wait(timeout: .now() + 10)
            throw HarnessError("redis-server did not listen on port \(port)")
        }
        self.port = port
        self.password = password
        self.process = Locked(process)
    }

    public var url: String {
        password.map { "redis://:\($0)@127.0.0.1:\(port)/0" } ?? "redis://127.0.0.1:\(port)/0"
    }

    /// Stops it (SIGTERM) and waits.
    public func stop() { end(SIGTERM) }

    /// Kills it (SIGKILL), as a crash would.
    public func kill() { end(SIGKILL) }

    private func end(_ signal: Int32) {
        let process = self.process.withLock { process -> Process? in
            defer { process = nil }
            return process
        }
        guard let process else { return }
        let pid = process.processIdentifier
        Foundation.kill(pid, signal)
        if exited.wait(timeout: .now() + 5) == .timedOut {
            Foundation.kill(pid, SIGKILL)
            _ = exited.wait(timeout: .now() + 5)
        }
    }

    deinit { end(SIGKILL) }
}
