/// Byte comparison for names and keys, without a C library (this module imports nothing).
enum Bytes {
    /// Whether `left` and `right` hold the same bytes: eight at a time, then the rest. The
    /// generic `elementsEqual` over raw buffers compared a byte per iterator step, a visible
    /// share of each member lookup.
    @inline(__always)
    static func equal(_ left: UnsafeRawBufferPointer, _ right: UnsafeRawBufferPointer) -> Bool {
        let count = left.count
        guard count == right.count else { return false }
        var offset = 0
        while offset + 8 <= count {
            if left.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                != right.loadUnaligned(fromByteOffset: offset, as: UInt64.self) { return false }
            offset += 8
        }
        while offset < count {
            if left[offset] != right[offset] { return false }
            offset += 1
        }
        return true
    }
}
