import Foundation
import Testing
import VolleyTestSupport

/// The built `volley` executable, run as a child process.
enum VolleyProcess {
    /// A started child whose stdout and stderr go to files in `dir`.
    final class Child: Sendable {
        let process: Process
        let stdoutPath: String
        let stderrPath: String
        private let exited = Latch<Void>(name: "volley run to exit")

        init(_ arguments: [String], in dir: TempDir, name: String = "volley") throws {
            stdoutPath = dir.path("\(name).stdout")
            stderrPath = dir.path("\(name).stderr")
            _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
            _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
            let process = Process()
            process.executableURL = try BuiltExecutable.volley()
            process.arguments = arguments
            process.currentDirectoryURL = dir.url
            // Only the built-in mock provider: no keys from the environment.
            process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
            self.process = process
            process.terminationHandler = { [exited] _ in exited.set(()) }
            try process.run()
        }

        /// Waits for the process to end. - Throws: ``HarnessError`` after `timeoutSeconds`.
        func wait(timeoutSeconds: Double = 120) async throws {
            try await exited.wait(timeout: timeoutSeconds)
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
        try await child.wait()
        return Result(status: child.process.terminationStatus, stdout: child.stdout, stderr: child.stderr)
    }
}
