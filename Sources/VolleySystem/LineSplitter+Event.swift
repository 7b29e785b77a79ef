extension LineSplitter {
    /// What ``LineSplitter`` finds in the stream.
    public enum Event: Sendable, Hashable {
        /// One complete, non-blank line, without its `\n` and one trailing `\r`.
        case line([UInt8])
        /// A line longer than the limit was discarded; `byteCount` is its length without `\n`.
        case tooLong(byteCount: Int)
    }
}
