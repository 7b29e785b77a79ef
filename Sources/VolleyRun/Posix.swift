#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `write(2)` under a name that methods called `write` do not shadow.
func posixWrite(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, bytes, count)
    #else
    return Darwin.write(fd, bytes, count)
    #endif
}

/// `close(2)` under a name that methods called `close` do not shadow.
func posixClose(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #else
    _ = Darwin.close(fd)
    #endif
}

/// The system's text for an `errno` value.
func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// Writes all of `text` to `fd` (stderr, usually), ignoring failures.
func writeAll(_ fd: Int32, _ text: String) {
    let bytes = Array(text.utf8)
    let count = bytes.count
    var offset = 0
    while offset < count {
        let written = bytes.withUnsafeBytes { raw in
            posixWrite(fd, raw.baseAddress.map { $0 + offset }, count - offset)
        }
        if written < 0 && errno == EINTR { continue }
        if written <= 0 { return }
        offset += written
    }
}
