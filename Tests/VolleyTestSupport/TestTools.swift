import Foundation

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Small blocking helpers for tests that start real servers: a free port, a tool on `PATH`, a
/// command's output, and a way to run blocking work off Swift's cooperative pool.
public enum TestTools {
    /// A TCP port on 127.0.0.1 that nothing listens on right now, found by binding port 0.
    ///
    /// nginx cannot bind port 0 and report the port, so callers pass this one to it. Another
    /// process could take the port before the caller binds it; in tests that is rare enough.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NginxProcess.Failure.command("socket", errno, "") }
        defer { close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw NginxProcess.Failure.command("bind", errno, "") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// True when a TCP connect to 127.0.0.1:`port` succeeds now.
    public static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// The absolute path of `tool` in the usual system directories (sbin included, where
    /// Debian puts nginx), or nil.
    public static func which(_ tool: String) -> String? {
        for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"] {
            let path = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs `executable` to completion and returns its stdout and stderr, interleaved.
    /// - Throws: `NginxProcess.Failure.command` when it exits with a non-zero status.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.runKeepingReference()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: output, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw NginxProcess.Failure.command(([executable] + arguments).joined(separator: " "), process.terminationStatus, text)
        }
        return text
    }

    /// Runs blocking `body` on a thread of its own and returns its result. Blocking Swift's
    /// cooperative pool (as few threads as cores) would stall every other test meanwhile.
    public static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// Runs blocking `body` on a thread of its own (see the throwing overload).
    public static func onThread(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { continuation in
            Thread {
                body()
                continuation.resume()
            }.start()
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
