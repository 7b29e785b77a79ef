import Dispatch
import Testing
import VolleyCore
@testable import VolleyRPC
import VolleySystem
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Collects values sent from any thread and lets a test wait until enough have arrived.
final class Recorder<Value: Sendable>: Sendable {
    private let values = Locked<[Value]>([])
    private let arrivals = DispatchSemaphore(value: 0)

    func record(_ value: Value) {
        values.withLock { $0.append(value) }
        arrivals.signal()
    }

    var all: [Value] {
        values.withLock { $0 }
    }

    var count: Int {
        values.withLock { $0.count }
    }

    /// Waits until at least `count` values were recorded; `false` after `seconds` (a failure guard,
    /// not a synchronisation: tests never rely on it expiring).
    func wait(forCount count: Int, seconds: Double = 10) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while self.count < count {
            if arrivals.wait(timeout: deadline) == .timedOut { return self.count >= count }
        }
        return true
    }
}

/// A pipe whose ends the test closes explicitly.
struct TestPipe {
    let readEnd: Int32
    let writeEnd: Int32

    init() throws {
        var descriptors: [Int32] = [-1, -1]
        try #require(pipe(&descriptors) == 0)
        readEnd = descriptors[0]
        writeEnd = descriptors[1]
    }

    func write(_ text: String) {
        writeAll(Array(text.utf8), to: writeEnd)
    }

    func closeWriteEnd() {
        close(writeEnd)
    }

    func closeReadEnd() {
        close(readEnd)
    }
}

func writeAll(_ bytes: [UInt8], to fd: Int32) {
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count, let base = raw.baseAddress {
            let written = write(fd, base + offset, raw.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

/// Reads `fd` on its own thread until EOF; `wait` returns everything read.
///
/// Not a Dispatch queue: tests block pool threads while they wait, and Dispatch would only add a
/// thread for the drain after a delay.
final class BackgroundDrain: Sendable {
    private let bytes = Locked<[UInt8]>([])
    private let done = DispatchSemaphore(value: 0)

    init(fd: Int32) throws {
        try DetachedThread.start(name: "test-drain") { [self] in
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                bytes.withLock { $0.append(contentsOf: buffer[0..<count]) }
            }
            done.signal()
        }
    }

    var received: Int {
        bytes.withLock { $0.count }
    }

    func wait(seconds: Double = 30) -> [UInt8]? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        return bytes.withLock { $0 }
    }
}

/// Bytes waiting unread in a pipe.
func unreadByteCount(_ fd: Int32) -> Int32 {
    var count: Int32 = 0
    _ = ioctl(fd, UInt(FIONREAD), &count)
    return count
}

func lines(_ bytes: [UInt8]) -> [String] {
    bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
}

func json(_ bytes: [UInt8]) throws -> JSONValue {
    try JSONParser.parse(bytes)
}

func json(_ text: String) throws -> JSONValue {
    try JSONParser.parse(text)
}

extension LineEvent {
    var text: String? {
        guard case .line(let bytes) = self else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
