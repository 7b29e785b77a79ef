/// The keys of the input seen so far, so that a line repeating one is refused: a key names one
/// call in the journal, so two lines with one key would be two paid calls that resume cannot
/// tell apart.
///
/// Only explicit keys (`key`, `custom_id`) are kept, as a ``KeySet`` digest and the first line
/// that used it (about 24 bytes a key, plus the table's overhead). A line without a key is
/// keyed `line:<n>` by its own number, which no other keyless line can repeat; the only clash
/// is with an explicit key spelled `line:<n>`, caught both ways: such a key is looked up by the
/// keyless line `n`, and a bit per line (125 KB per million lines) says which lines had no key.
package struct KeyLines {
    private var firstLines: [KeySet.Digest: Int] = [:]
    /// Bit `n` set: line `n` had no key (it is keyed `line:<n>`).
    private var keyless: [UInt64] = []

    /// Explicit keys kept.
    package var count: Int { firstLines.count }

    package init() {}

    /// Records that `line` uses `key`; returns the earlier line that has it, if one does (the
    /// key then stays with that line).
    package mutating func use(_ key: String, line: Int) -> Int? {
        let digest = KeySet.digest(key)
        if key == LineDecoder.lineKey(line) {
            // The line's own number: only an explicit key spelled so can have come before.
            if let first = firstLines[digest] { return first }
            markKeyless(line)
            return nil
        }
        if let first = firstLines[digest] { return first }
        if let numbered = Self.lineNumber(in: key), numbered < line, isKeyless(numbered) { return numbered }
        firstLines[digest] = line
        return nil
    }

    /// `n` for a key spelled exactly as ``LineDecoder/lineKey(_:)`` spells line `n`.
    private static func lineNumber(in key: String) -> Int? {
        guard key.hasPrefix("line:"), let number = Int(key.dropFirst(5)), number > 0,
              LineDecoder.lineKey(number) == key else { return nil }
        return number
    }

    private mutating func markKeyless(_ line: Int) {
        guard line > 0 else { return }
        let word = line / 64
        if word >= keyless.count { keyless.append(contentsOf: repeatElement(0, count: word - keyless.count + 1)) }
        keyless[word] |= 1 << UInt64(line % 64)
    }

    private func isKeyless(_ line: Int) -> Bool {
        let word = line / 64
        return word < keyless.count && keyless[word] & (1 << UInt64(line % 64)) != 0
    }
}
