#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import VolleySystem

/// An I/O failure, with the path and the system's reason.
struct FileError: Error, Sendable, CustomStringConvertible {
    var message: String
    var description: String { message }

    init(_ what: String, path: String, errno code: Int32) {
        message = "\(path): \(what): \(errnoText(code))"
    }
}

/// Reads a file line by line with `read(2)` into one fixed buffer, so memory is the buffer
/// plus the line being assembled, whatever the file's size. Lines end with `\n`; a trailing
/// `\r` is dropped; the last line may lack its `\n`. A line longer than `maxLineBytes` is not
/// kept: it is skipped up to its newline and reported as `.tooLong`.
///
/// Not thread-safe: one reader belongs to one task.
final class LineReader {
    enum Line {
        case text([UInt8])
        case tooLong(byteCount: Int)
    }

    let path: String
    let maxLineBytes: Int
    /// The 1-based number of the line `next()` returned last.
    private(set) var lineNumber = 0
    private let fd: Int32
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var atEOF = false
    /// The start of a line that spans reads.
    private var carry: [UInt8] = []
    /// Bytes of the current line seen so far once it is known to be too long (else 0).
    private var overflow = 0

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
        self.maxLineBytes = maxLineBytes
        self.buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(4096, bufferSize), alignment: 16)
    }

    deinit {
        buffer.deallocate()
        posixClose(fd)
    }

    /// The next line, or nil at the end of the file.
    func next() throws(FileError) -> Line? {
        while true {
            guard let base = buffer.baseAddress else { return nil }
            if start < end {
                let available = end - start
                if let found = memchr(base + start, 0x0A, available) {
                    let length = base.distance(to: UnsafeMutableRawPointer(found)) - start
                    let line = take(base + start, length)
                    start += length + 1
                    lineNumber += 1
                    return line
                }
                keep(base + start, available)
                start = end
            }
            if atEOF {
                guard !carry.isEmpty || overflow > 0 else { return nil }
                lineNumber += 1
                return take(base, 0)
            }
            let count = read(fd, base, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw FileError("cannot read", path: path, errno: errno)
            }
            if count == 0 {
                atEOF = true
            } else {
                start = 0
                end = count
            }
        }
    }

    /// Adds `length` bytes to the line being assembled (or only counts them once it is too long).
    private func keep(_ bytes: UnsafeMutableRawPointer, _ length: Int) {
        if overflow > 0 {
            overflow += length
        } else if carry.count + length > maxLineBytes {
            overflow = carry.count + length
            carry = []
        } else {
            carry.append(contentsOf: UnsafeRawBufferPointer(start: bytes, count: length))
        }
    }

    /// Ends the current line with its last `length` bytes.
    private func take(_ bytes: UnsafeMutableRawPointer, _ length: Int) -> Line {
        keep(bytes, length)
        defer {
            carry = []
            overflow = 0
        }
        if overflow > 0 { return .tooLong(byteCount: overflow) }
        var line = carry
        if line.last == 0x0D { line.removeLast() }
        return .text(line)
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
