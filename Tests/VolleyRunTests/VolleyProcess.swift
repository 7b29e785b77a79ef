import Foundation
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
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

        /// - Parameters:
        ///   - openFilesLimit: started through `sh -c 'ulimit -n N; exec volley ...'` (same pid),
        ///     with this soft and hard limit on open files, which the run cannot raise.
        ///   - stdoutPipe: stdout goes to this pipe instead of the `.stdout` file; the caller
        ///     reads it (or not).
        init(_ arguments: [String], in dir: TempDir, name: String = "volley", openFilesLimit: Int? = nil,
             stdoutPipe: Pipe? = nil) throws {
            stdoutPath = dir.path("\(name).stdout")
            stderrPath = dir.path("\(name).stderr")
            _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
            _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
            let process = Process()
            let binary = try BuiltExecutable.volley()
            if let openFilesLimit {
                process.executableURL = URL(fileURLWithPath: "/bin/sh")
                process.arguments = ["-c", "ulimit -n \(openFilesLimit) && exec \"$0\" \"$@\"", binary.path] + arguments
            } else {
                process.executableURL = binary
                process.arguments = arguments
            }
            process.currentDirectoryURL = dir.url
            // Only the built-in mock provider: no keys from the environment.
            process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
            process.standardInput = FileHandle.nullDevice
            if let stdoutPipe {
                process.standardOutput = stdoutPipe
            } else {
                process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
            }
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
            self.process = process
            process.terminationHandler = { [exited] _ in exited.set(()) }
            try process.runKeepingReference()
            // The child has its copy: ours would keep the reader from ever seeing EOF.
            try? stdoutPipe?.fileHandleForWriting.close()
        }

        var pid: Int32 { process.processIdentifier }

        /// Sends `signal` unless the process has already exited.
        func signal(_ signal: Int32) {
            guard exited.value == nil else { return }
            _ = kill(pid, signal)
        }

        var hasExited: Bool { exited.value != nil }

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
