#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Splits a byte stream into `\n`-terminated lines with a bounded line length: the one line
/// splitter of the JSON-RPC reader (stdin) and `volley run`'s file reader.
///
/// Feed chunks as they arrive; lines come out without their `\n` and with one trailing `\r`
/// removed. Lines that are empty or hold only spaces, tabs and `\r` are skipped unless
/// ``keepsBlankLines`` is set (a file reader that numbers lines keeps them). A line longer
/// than ``maxLineBytes`` (not counting its `\n` and one trailing `\r`) is reported once as
/// ``Event/tooLong(byteCount:)`` when its newline arrives, and its bytes are counted but never
/// kept, so memory stays below about `maxLineBytes` whatever the input. Call ``finish()`` at end
/// of input for a last line that has no newline.
///
/// A pure value type: no I/O, no threads.
public struct LineSplitter: Sendable {
    /// The default ``maxLineBytes``: 16 MiB, the protocol's default.
    public static let defaultMaxLineBytes = 16 * 1024 * 1024

    /// The longest line accepted, in bytes, without its `\n` and one trailing `\r`.
    public let maxLineBytes: Int
    /// Whether blank lines come out too (as `.line`), so that every line of the input is one event.
    public let keepsBlankLines: Bool

    /// The start of the current line, while it is within the limit.
    private var pending: [UInt8] = []
    /// The byte count of the current line once it is known to be too long (its bytes are dropped).
    private var discardedByteCount: Int?

    /// Creates a splitter that rejects lines longer than `maxLineBytes` (at least 1; `Int.max`
    /// for no limit).
    public init(maxLineBytes: Int = defaultMaxLineBytes, keepsBlankLines: Bool = false) {
        self.maxLineBytes = max(1, maxLineBytes)
        self.keepsBlankLines = keepsBlankLines
    }

    /// Bytes held for the current line; tests check that over-long lines are not kept.
    var pendingByteCount: Int {
        pending.count
    }

    /// Splits the next chunk of the stream, calling `emit` for each complete line in order.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, _ emit: (Event) -> Void) {
        guard let base = chunk.baseAddress else { return }
        var start = 0
        while start < chunk.count {
            let remaining = chunk.count - start
            if let newline = memchr(base + start, 0x0A, remaining) {
                let end = base.distance(to: UnsafeRawPointer(newline))
                endLine(UnsafeRawBufferPointer(start: base + start, count: end - start), emit)
                start = end + 1
            } else {
                absorb(UnsafeRawBufferPointer(start: base + start, count: remaining))
                start = chunk.count
            }
        }
    }

    /// Splits the next chunk of the stream and returns the complete lines in it.
    public mutating func feed(_ chunk: [UInt8]) -> [Event] {
        var events: [Event] = []
        chunk.withUnsafeBytes { raw in
            feed(raw) { events.append($0) }
        }
        return events
    }

    /// Ends the stream: returns the last line if it had no newline (and is neither blank nor too
    /// long, which is reported instead), and resets the splitter.
    public mutating func finish() -> Event? {
        defer {
            pending = []
            discardedByteCount = nil
        }
        if let discardedByteCount {
            return .tooLong(byteCount: discardedByteCount)
        }
        // Input that ended with its newline has no last line to report.
        guard !pending.isEmpty else { return nil }
        return pending.withUnsafeBytes { raw in
            classify(line: raw, rest: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// Keeps the start of a line whose newline has not arrived yet, or just counts it once the
    /// line is known to be too long. One extra byte is allowed for a `\r` that will be removed.
    private mutating func absorb(_ segment: UnsafeRawBufferPointer) {
        if let discarded = discardedByteCount {
            discardedByteCount = discarded + segment.count
        } else if pending.count + segment.count - 1 > maxLineBytes {
            discardedByteCount = pending.count + segment.count
            pending = []
        } else {
            pending.append(contentsOf: segment)
        }
    }

    /// Completes the current line with `segment`, its last part before the newline.
    private mutating func endLine(_ segment: UnsafeRawBufferPointer, _ emit: (Event) -> Void) {
        if let discarded = discardedByteCount {
            discardedByteCount = nil
            emit(.tooLong(byteCount: discarded + segment.count))
            return
        }
        let event = pending.withUnsafeBytes { head in classify(line: head, rest: segment) }
        pending.removeAll(keepingCapacity: pending.capacity <= 64 * 1024)
        if let event {
            emit(event)
        }
    }

    /// The event for a complete line made of `head` followed by `rest`: `nil` when blank and
    /// blank lines are skipped.
    private func classify(line head: UnsafeRawBufferPointer, rest: UnsafeRawBufferPointer) -> Event? {
        let rawCount = head.count + rest.count
        let last = rest.last ?? head.last
        let contentCount = last == 0x0D ? rawCount - 1 : rawCount
        if contentCount > maxLineBytes {
            return .tooLong(byteCount: rawCount)
        }
        if !keepsBlankLines, isBlank(head) && isBlank(rest) {
            return nil
        }
        var line: [UInt8] = []
        line.reserveCapacity(contentCount)
        line.append(contentsOf: head.prefix(contentCount))
        line.append(contentsOf: rest.prefix(contentCount - min(head.count, contentCount)))
        return .line(line)
    }

    private func isBlank(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Almost every line starts with `{` or `[`, so this usually stops at the first byte.
        !bytes.contains { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }
    }
}
