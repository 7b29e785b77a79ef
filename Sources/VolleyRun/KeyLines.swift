/// The keys of the input seen so far, each with the first line that used it: a key's
/// ``KeySet`` digest and a line number, about 24 bytes a key (plus the table's overhead).
///
/// A key names one call in the journal, so two lines with one key would be two paid calls
/// that resume cannot tell apart: the second line is refused instead.
struct KeyLines {
    private var firstLines: [KeySet.Digest: Int] = [:]

    var count: Int { firstLines.count }

    /// Records that `line` uses `key`; returns the earlier line that used it first, if one did
    /// (the key then stays with that line).
    mutating func use(_ key: String, line: Int) -> Int? {
        let digest = KeySet.digest(key)
        if let first = firstLines[digest] { return first }
        firstLines[digest] = line
        return nil
    }
}
