import Dispatch
import Testing
import VolleySystem
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("POSIX helpers")
struct PosixTests {
    @Test("ISO 8601 UTC timestamps, to the second")
    func iso8601Timestamps() {
        #expect(iso8601(unixSeconds: 0) == "1970-01-01T00:00:00Z")
        #expect(iso8601(unixSeconds: 951_782_400.9) == "2000-02-29T00:00:00Z")
        #expect(iso8601(unixSeconds: 1_795_591_385) == "2026-11-25T07:23:05Z")
    }

    @Test("fixed-point formatting as C's %.*f")
    func fixedFormatting() {
        #expect(formatFixed(3.14159, digits: 2) == "3.14")
        #expect(formatFixed(2.5, digits: 0) == "2")
        #expect(formatFixed(-0.05, digits: 3) == "-0.050")
        #expect(formatFixed(1234.5678, digits: 1) == "1234.6")
    }

    @Test("the wall clock is the system's real-time clock")
    func wallClock() {
        let before = time(nil)
        let now = unixTimeSeconds()
        let after = time(nil)
        #expect(Double(before) <= now && now < Double(after) + 1)
    }

    @Test("a file is read whole; a missing one names the system's reason")
    func readsFiles() throws {
        var template = Array("/tmp/volley-system-test-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        try #require(fd >= 0)
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { unlink(path) }
        let content = Array(repeating: Array("0123456789abcdef".utf8), count: 10_000).flatMap { $0 }  // 160 KB: several reads
        content.withUnsafeBytes { writeAll(fd, $0) }
        posixClose(fd)
        #expect(try readFile(atPath: path) == content)

        #expect(throws: FileReadError.self) { try readFile(atPath: path + "-missing") }
        do {
            _ = try readFile(atPath: path + "-missing")
        } catch {
            #expect(error.code == ENOENT)
            #expect(error.path == path + "-missing")
            #expect("\(error)" == String(cString: strerror(ENOENT)))
        }
    }

    @Test("the environment as a dictionary")
    func environment() throws {
        // Read only: setenv here could race with libcurl's getenv in tests running beside it.
        let environment = processEnvironment()
        let path = try #require(getenv("PATH"))
        #expect(environment["PATH"] == String(cString: path))
        var names = Set<String>()
        var entry = environ
        while let pointer = entry.pointee {
            names.insert(String(String(cString: pointer).prefix { $0 != "=" }))
            entry += 1
        }
        #expect(Set(environment.keys) == names)
    }

    @Test("a detached thread runs its body")
    func detachedThread() throws {
        let done = DispatchSemaphore(value: 0)
        try DetachedThread.start(name: "test") { done.signal() }
        #expect(done.wait(timeout: .now() + 10) == .success)
    }
}
