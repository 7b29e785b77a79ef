import Foundation
import VolleySystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A throwaway nginx listening on 127.0.0.1 and a free port, run from a temporary directory
/// of its own: the building block of the test servers (`NginxLimitServer`, the TLS one).
///
/// `init` creates the directory (with `logs/` and `tmp/`), picks the port, asks the caller for
/// the configuration text, writes it to `nginx.conf`, runs
/// `nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'` and returns once the port accepts TCP
/// connections (within 5 s, else it throws with nginx's error log). Everything blocks: call it
/// from a thread of its own (`TestTools.onThread`), never from Swift's cooperative pool.
///
/// Needs `nginx` (Debian's nginx-light; scripts/install-deps --test installs it).
public final class NginxProcess: Sendable {
    /// Where this nginx keeps its files, and the port it is to listen on.
    public struct Layout: Sendable, Hashable {
        /// The temporary directory (nginx's prefix), removed by `stop()`.
        public let directory: String
        /// The TCP port on 127.0.0.1 the configuration must listen on.
        public let port: Int

        public var confPath: String { "\(directory)/nginx.conf" }
        public var errorLogPath: String { "\(directory)/logs/error.log" }
        /// nginx's stderr, where it reports errors found before it reads `error_log`.
        public var stderrPath: String { "\(directory)/logs/stderr.log" }
        public var pidPath: String { "\(directory)/nginx.pid" }

        /// A whole nginx.conf around `http`, the inside of an `http { ... }` block (usually
        /// one or more `server { listen 127.0.0.1:PORT; ... }`).
        ///
        /// It sets one worker, the error log (level `warn`), the pid file and every temp path
        /// inside `directory`, and `access_log off` at the http level (a server may set its
        /// own). `main` goes first, at the top level: `load_module` lines, for example.
        /// - Parameter workerConnections: the most connections the worker holds at once,
        ///   listening sockets included; the worker's open-files limit is raised to match.
        public func conf(http: String, main: String = "", workerConnections: Int = 1024) -> String {
            """
            \(main)
            worker_processes 1;
            worker_rlimit_nofile \(workerConnections * 2 + 64);
            error_log \(errorLogPath) warn;
            pid \(pidPath);
            events { worker_connections \(workerConnections); }
            http {
                access_log off;
                client_body_temp_path \(directory)/tmp/body;
                proxy_temp_path \(directory)/tmp/proxy;
                fastcgi_temp_path \(directory)/tmp/fastcgi;
                uwsgi_temp_path \(directory)/tmp/uwsgi;
                scgi_temp_path \(directory)/tmp/scgi;
            \(http)
            }
            """
        }
    }

    /// Why a test server could not be set up.
    public enum Failure: Error, CustomStringConvertible {
        /// A program is not installed.
        case missingTool(String)
        /// A file another package provides (an nginx module) is missing: path, package.
        case missingFile(String, package: String)
        /// A command exited with a non-zero status: command line, status, output.
        case command(String, Int32, String)
        /// nginx exited or did not accept connections in time: its logs.
        case notListening(String)

        public var description: String {
            switch self {
            case .missingTool(let tool): return "\(tool) not found: run scripts/install-deps --test, which installs it"
            case .missingFile(let path, let package):
                return "\(path) not found: install the Debian package \(package) (scripts/install-deps --test installs it)"
            case .command(let command, let status, let output): return "\(command) exited \(status): \(output)"
            case .notListening(let log): return "nginx did not start listening: \(log)"
            }
        }
    }

    public let layout: Layout
    public var port: Int { layout.port }
    public var directory: String { layout.directory }
    /// nil once stopped. `Process` is not Sendable; the mutex makes every touch of it
    /// exclusive, and only `init` (before publishing `self`) and `terminate()` touch it.
    private let process: Locked<Process?>

    /// Starts nginx with the configuration `makeConf` returns for the layout (a whole
    /// nginx.conf; `Layout.conf(http:main:workerConnections:)` writes the boilerplate).
    /// `makeConf` may also put files in `layout.directory` (certificates, say).
    /// - Throws: `Failure`, or what `makeConf` throws; the directory is removed then.
    public init(_ makeConf: (Layout) throws -> String) throws {
        guard let nginx = TestTools.which("nginx") else { throw Failure.missingTool("nginx") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("volley-nginx-\(UUID().uuidString)").path
        var started = false
        defer { if !started { try? FileManager.default.removeItem(atPath: directory) } }
        for sub in ["logs", "tmp"] {
            try FileManager.default.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true)
        }
        let layout = Layout(directory: directory, port: try TestTools.freePort())
        try makeConf(layout).write(toFile: layout.confPath, atomically: true, encoding: .utf8)
        guard FileManager.default.createFile(atPath: layout.stderrPath, contents: nil),
              let stderr = FileHandle(forWritingAtPath: layout.stderrPath)
        else { throw Failure.command("create \(layout.stderrPath)", errno, "") }
        defer { try? stderr.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: nginx)
        process.arguments = ["-p", directory, "-c", layout.confPath, "-g", "daemon off;"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        try process.runKeepingReference()
        guard Self.waitUntilListening(process, port: layout.port) else {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
            throw Failure.notListening(Self.logs(layout))
        }
        started = true
        self.layout = layout
        self.process = Locked(process)
    }

    /// nginx's error log and stderr so far, for failure messages.
    public func logs() -> String { Self.logs(layout) }

    /// Stops nginx (SIGTERM, then waits for the master, which waits for its worker) and keeps
    /// the directory, so that logs can still be read. Idempotent.
    public func terminate() {
        process.withLock { process in
            if let running = process, running.isRunning {
                running.terminate()
                running.waitUntilExit()
            }
            process = nil
        }
    }

    /// Stops nginx and removes its directory. Idempotent.
    public func stop() {
        terminate()
        try? FileManager.default.removeItem(atPath: layout.directory)
    }

    deinit { stop() }

    /// Polls a TCP connect until nginx accepts, for at most 5 s; nginx offers no readiness
    /// signal. False when nginx exited or never accepted.
    private static func waitUntilListening(_ process: Process, port: Int) -> Bool {
        for _ in 0..<500 {
            if !process.isRunning { return false }
            if TestTools.canConnect(port: port) { return true }
            usleep(10_000)
        }
        return false
    }

    private static func logs(_ layout: Layout) -> String {
        let errorLog = (try? String(contentsOfFile: layout.errorLogPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: layout.stderrPath, encoding: .utf8)) ?? ""
        return [errorLog, stderr].filter { !$0.isEmpty }.joined(separator: "\n")
    }
}
