import Foundation
import Synchronization
import Testing

/// The built `volley` executable, run as a child process.
enum VolleyProcess {
    /// `VOLLEY_BIN`, else `volley` next to the test bundle (SwiftPM builds both into one folder),
    /// else `.build/debug/volley` under the package root.
    static func binary(filePath: String = #filePath) throws -> URL {
        var candidates: [URL] = []
        if let explicit = ProcessInfo.processInfo.environment["VOLLEY_BIN"], !explicit.isEmpty {
            candidates.append(URL(fileURLWithPath: explicit))
        }
        if let bundle = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent("volley"))
        }
        let root = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/volley"))
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw ProcessFailure("volley not found at \(candidates.map(\.path)); run `swift build --build-tests` or set VOLLEY_BIN")
        }
        return found
    }

    /// A started child whose stdout and stderr go to files in `dir`.
    final class Child: Sendable {
        let process: Process
        let stdoutPath: String
        let stderrPath: String
        private let exited = ExitLatch()

        init(_ arguments: [String], in dir: TempDir, name: String = "volley") throws {
            stdoutPath = dir.path("\(name).stdout")
            stderrPath = dir.path("\(name).stderr")
            _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
            _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
            let process = Process()
            process.executableURL = try VolleyProcess.binary()
            process.arguments = arguments
            process.currentDirectoryURL = dir.url
            // Only the built-in mock provider: no keys from the environment.
            process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
            self.process = process
            process.terminationHandler = { [exited] _ in exited.open() }
            try process.run()
        }

        /// Waits for the process to end.
        func wait() async {
            await exited.wait()
        }

        var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
        var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `volley ARGUMENTS` in `dir` to the end.
    static func run(_ arguments: [String], in dir: TempDir, name: String = "volley") async throws -> Result {
        let child = try Child(arguments, in: dir, name: name)
        await child.wait()
        return Result(status: child.process.terminationStatus, stdout: child.stdout, stderr: child.stderr)
    }
}

/// Opens once; `wait` returns once it is open.
final class ExitLatch: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isOpen = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if isOpen { continuation.resume() }
        }
    }
}

struct ProcessFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
