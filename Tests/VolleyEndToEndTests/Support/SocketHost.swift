import CVolleyLinux
import Foundation
import Testing
import Synchronization
import VolleyCore
import VolleyTestSupport
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Runs `body` with a fresh private (0700) directory for a daemon's socket, removed after.
func withPrivateDirectory<Result>(_ body: (String) async throws -> Result) async throws -> Result {
    var template = Array("/tmp/volley-e2e-XXXXXX".utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }) else {
        throw HarnessError("mkdtemp failed: errno \(errno)")
    }
    let directory = String(cString: made)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try await body(directory)
}

/// Spawns `volley serve --socket PATH` (plus `arguments`) and returns once it accepts
/// connections.
func startDaemon(socket path: String, _ arguments: [String] = [], environment: [String: String] = [:]) async throws -> VolleyProcess {
    let daemon = try VolleyProcess(arguments: ["serve", "--socket", path] + arguments, environment: environment)
    let ready = await waitUntil("the daemon accepts connections on \(path)") {
        if daemon.hasExited { return true }
        let fd = volley_unix_connect(path)
        if fd >= 0 { close(fd) }
        return fd >= 0
    }
    if !ready || daemon.hasExited {
        daemon.terminate()
        throw HarnessError("the daemon did not start: \(daemon.stderrText)")
    }
    return daemon
}

/// One host's connection to a daemon, as the test sees it: requests written on the socket,
/// every line read back into ``output`` by a thread of its own.
final class SocketHost: Sendable {
    let fd: Int32
    let output: OutputLog
    private let ended = Latch<Void>(name: "the connection's EOF")

    init(socket path: String) throws {
        let fd = volley_unix_connect(path)
        guard fd >= 0 else { throw HarnessError("cannot connect to \(path): errno \(-fd)") }
        self.fd = fd
        let output = OutputLog(name: "connection")
        self.output = output
        let ended = self.ended
        Thread.detachNewThread {
            readLines(fd: fd) { output.append($0) }
            output.close()
            Glibc.close(fd)
            ended.set(())
        }
    }

    func send(_ value: JSONValue) throws {
        let bytes = value.jsonBytes + [0x0A]
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw HarnessError("writing to the connection failed: errno \(errno)") }
            written += count
        }
    }

    /// Sends a request and waits for its response.
    @discardableResult
    func request(_ method: String, id: JSONValue, params: JSONValue? = nil, timeout: Double = defaultTimeoutSeconds) async throws -> JSONValue {
        let start = output.count
        try send(rpcRequest(method, id: id, params: params))
        let index = try await output.waitFor(from: start, timeout: timeout, "the response to \(id.jsonString)") { isResponse($0, id: id) }
        return try requireValue(output.lines[index].value)
    }

    func response(to id: JSONValue, timeout: Double = defaultTimeoutSeconds) async throws -> JSONValue {
        let index = try await output.waitFor(timeout: timeout, "the response to \(id.jsonString)") { isResponse($0, id: id) }
        return try requireValue(output.lines[index].value)
    }

    func notify(_ method: String, params: JSONValue? = nil) throws {
        var object: JSONObject = ["jsonrpc": "2.0", "method": .string(method)]
        if let params { object["params"] = params }
        try send(.object(object))
    }

    /// Stops sending (the daemon sees end of input) but keeps reading.
    func halfClose() { _ = shutdown(fd, Int32(SHUT_WR)) }

    /// Closes the connection completely, as a host that exits does.
    func close() { _ = shutdown(fd, Int32(SHUT_RDWR)) }

    /// Waits until the daemon has closed its end.
    func waitForEOF(timeout: Double = defaultTimeoutSeconds) async throws {
        try await ended.wait(timeout: timeout)
    }
}
