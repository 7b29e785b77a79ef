import VolleySystem

/// What a ``LineReader`` delivers to its handler, in stream order.
public enum LineEvent: Sendable, Hashable {
    /// One complete, non-blank line, without its `\n` and one trailing `\r`.
    case line([UInt8])
    /// A line longer than the reader's limit was discarded (answer -32010 with `id: null`);
    /// `byteCount` is its length without `\n`.
    case tooLong(byteCount: Int)
    /// End of input. Always the last event; the reader's thread has ended.
    case eof
    /// `read(2)` failed with `errno` (not `EINTR`, which is retried). Always the last event.
    case readError(errno: Int32)

    init(_ event: LineSplitter.Event) {
        switch event {
        case .line(let bytes): self = .line(bytes)
        case .tooLong(let byteCount): self = .tooLong(byteCount: byteCount)
        }
    }
}
