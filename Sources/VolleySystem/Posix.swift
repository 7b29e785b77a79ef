#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// The few POSIX calls the modules share, so that none of them needs Foundation, which the
// `volley` binary does not link: for a thread, a file read, the environment and the time of
// day it cost ~7 MB of resident memory and ~5 ms of start-up CPU.

/// `write(2)` under a name that methods called `write` do not shadow.
public func posixWrite(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    Glibc.write(fd, bytes, count)
}

/// `close(2)` under a name that methods called `close` do not shadow.
public func posixClose(_ fd: Int32) {
    _ = Glibc.close(fd)
}

/// The system's text for an `errno` value.
public func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// Writes all of `text` to `fd` (stderr, usually), ignoring failures.
public func writeAll(_ fd: Int32, _ text: String) {
    Array(text.utf8).withUnsafeBytes { writeAll(fd, $0) }
}

/// Writes all of `bytes` to `fd`, ignoring failures.
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
    var offset = 0
    while offset < bytes.count {
        let written = posixWrite(fd, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
        if written < 0 && errno == EINTR { continue }
        if written <= 0 { return }
        offset += written
    }
}

/// Writes `text` to standard error, ignoring failures.
public func writeToStandardError(_ text: String) {
    writeAll(2, text)
}

/// A file that could not be read: its path and the system's reason.
public struct FileReadError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let code: Int32

    public var description: String { errnoText(code) }
}

/// The whole contents of the file at `path`.
public func readFile(atPath path: String) throws(FileReadError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileReadError(path: path, code: errno) }
    defer { posixClose(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw FileReadError(path: path, code: errno)
        }
        if count == 0 { return bytes }
        bytes.append(contentsOf: chunk[0..<count])
    }
}

/// The process's environment. A variable set twice keeps its first value (as `getenv` does).
public func processEnvironment() -> [String: String] {
    var environment: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
        let text = String(cString: pointer)
        if let equals = text.firstIndex(of: "=") {
            let name = String(text[..<equals])
            if environment[name] == nil {
                environment[name] = String(text[text.index(after: equals)...])
            }
        }
        entry += 1
    }
    return environment
}

/// The permission bits of the file at `path` (`st_mode & 0o777`), nil when it cannot be stat'ed.
public func filePermissions(atPath path: String) -> UInt32? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return UInt32(info.st_mode) & 0o777
}

/// Seconds since the Unix epoch, from the system's real-time clock.
public func unixTimeSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// `2026-11-25T07:43:05Z`: the UTC time `seconds` after the epoch, to the second (ISO 8601).
public func iso8601(unixSeconds seconds: Double) -> String {
    var time = time_t(seconds.rounded(.down))
    var parts = tm()
    gmtime_r(&time, &parts)
    func pad(_ value: Int32, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
    return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
        + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))Z"
}

/// `value` with `digits` digits after the point, as C's `%.*f` writes it (`3.14159`, 2 → `3.14`).
public func formatFixed(_ value: Double, digits: Int) -> String {
    var buffer = [CChar](repeating: 0, count: 64)
    let written = buffer.withUnsafeMutableBufferPointer { out in
        withVaList([Int32(digits), value]) { vsnprintf(out.baseAddress, out.count, "%.*f", $0) }
    }
    guard written >= 0, written < buffer.count else { return String(value) }
    return String(decoding: buffer[0..<Int(written)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Ends the process with `code` (C's `exit`: atexit handlers run, threads do not unwind).
public func exitProcess(_ code: Int32) -> Never {
    exit(code)
}
