#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import DequeModule
import VolleySystem

/// An I/O failure, with the path and the system's reason.
struct FileError: Error, Sendable, CustomStringConvertible {
    var message: String
    var description: String { message }

    init(_ what: String, path: String, errno code: Int32) {
        message = "\(path): \(what): \(errnoText(code))"
    }

    init(message: String) {
        self.message = message
    }
}

/// Reads a file line by line with `read(2)` into one fixed buffer and the shared
/// ``LineSplitter``, so memory is the buffer plus the lines of one read, whatever the file's
/// size. Lines end with `\n`; a trailing `\r` is dropped; the last line may lack its `\n`;
/// blank lines are kept (every line has its number). A line longer than `maxLineBytes` is not
/// kept: it is skipped up to its newline and reported as `.tooLong`.
///
/// Not thread-safe: one reader belongs to one task.
final class LineReader {
    typealias Line = LineSplitter.Event

    let path: String
    var maxLineBytes: Int { splitter.maxLineBytes }
    /// The 1-based number of the line `next()` returned last.
    private(set) var lineNumber = 0
    private let fd: Int32
    private let buffer: UnsafeMutableRawBufferPointer
    private var splitter: LineSplitter
    /// Lines split out of the last read, not yet returned.
    private var ready = Deque<Line>()
    private var atEOF = false

    /// Opens `path` for reading.
    convenience init(path: String, maxLineBytes: Int, bufferSize: Int = 1 << 20) throws(FileError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("cannot open", path: path, errno: errno) }
        self.init(fd: fd, path: path, maxLineBytes: maxLineBytes, bufferSize: bufferSize)
    }

    /// Takes ownership of `fd` (closed on deinit).
    init(fd: Int32, path: String, maxLineBytes: Int, bufferSize: Int = 1 << 20) {
        self.fd = fd
        self.path = path
        self.splitter = LineSplitter(maxLineBytes: maxLineBytes, keepsBlankLines: true)
        self.buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(4096, bufferSize), alignment: 16)
    }

    deinit {
        buffer.deallocate()
        posixClose(fd)
    }

    /// The next line, or nil at the end of the file.
    func next() throws(FileError) -> Line? {
        while true {
            if let line = ready.popFirst() {
                lineNumber += 1
                return line
            }
            guard !atEOF, let base = buffer.baseAddress else { return nil }
            let count = read(fd, base, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw FileError("cannot read", path: path, errno: errno)
            }
            if count == 0 {
                atEOF = true
                if let last = splitter.finish() { ready.append(last) }
            } else {
                splitter.feed(UnsafeRawBufferPointer(start: base, count: count)) { ready.append($0) }
            }
        }
    }
}

/// Counts the lines of a file that hold anything but spaces, tabs and `\r` (the lines
/// `volley run` will report on), reading it once with a fixed buffer.
enum LineCounter {
    static func countNonBlankLines(path: String) throws(FileError) -> Int {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("cannot open", path: path, errno: errno) }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        guard let base = buffer.baseAddress else { return 0 }
        var lines = 0
        var content = false
        while true {
            let count = read(fd, base, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw FileError("cannot read", path: path, errno: errno)
            }
            if count == 0 { break }
            for byte in UnsafeRawBufferPointer(start: base, count: count) {
                switch byte {
                case 0x0A:
                    if content { lines += 1 }
                    content = false
                case 0x20, 0x09, 0x0D:
                    break
                default:
                    content = true
                }
            }
        }
        if content { lines += 1 }
        return lines
    }
}
