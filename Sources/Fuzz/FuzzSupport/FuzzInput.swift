/// A fuzz input read front to back: a few leading bytes choose options, the rest is data.
///
/// The targets that take several inputs split the data into fields with a simple convention
/// (each target's header comment says which), so that libFuzzer's byte mutations keep the
/// fields apart and a crash file stays readable.
public struct FuzzInput {
    /// The bytes not yet taken.
    public private(set) var rest: ArraySlice<UInt8>

    /// Copies the `count` bytes at `data` (libFuzzer owns them only for the call).
    public init(_ data: UnsafePointer<UInt8>?, _ count: Int) {
        rest = ArraySlice(UnsafeBufferPointer(start: data, count: data == nil ? 0 : count))
    }

    public init(_ bytes: [UInt8]) {
        rest = bytes[...]
    }

    /// Takes the next byte as an option; 0 once the input is used up.
    public mutating func byte() -> UInt8 {
        guard let first = rest.first else { return 0 }
        rest = rest.dropFirst()
        return first
    }

    /// Takes the bytes up to the next `separator` (which is dropped), or all that is left.
    public mutating func field(separator: UInt8) -> ArraySlice<UInt8> {
        guard let end = rest.firstIndex(of: separator) else {
            defer { rest = rest[rest.endIndex...] }
            return rest
        }
        defer { rest = rest[(end + 1)...] }
        return rest[..<end]
    }

    /// Whether every byte was taken.
    public var isEmpty: Bool { rest.isEmpty }
}

/// Splits `bytes` into chunks whose sizes come from `sizes` in turn (each 1 to 256; an empty
/// `sizes` gives one chunk): how targets check that a stream parser's result does not depend on
/// where the stream was cut.
public func chunks(of bytes: ArraySlice<UInt8>, sizes: [UInt8]) -> [ArraySlice<UInt8>] {
    guard !sizes.isEmpty else { return [bytes] }
    var chunks: [ArraySlice<UInt8>] = []
    var start = bytes.startIndex
    var turn = 0
    while start < bytes.endIndex {
        let size = Int(sizes[turn % sizes.count]) + 1
        let end = min(bytes.endIndex, start + size)
        chunks.append(bytes[start..<end])
        start = end
        turn += 1
    }
    return chunks
}

/// Stops the process (a crash libFuzzer reports, with the input) when an invariant of the code
/// under test does not hold. Unlike `assert`, it is checked in every build.
public func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                    file: StaticString = #file, line: UInt = #line) {
    if !condition() {
        fatalError("fuzz invariant broken: \(message())", file: file, line: line)
    }
}

/// Whether `bytes` hold `part` anywhere, compared as bytes (not characters: a key followed by
/// a combining mark is another character, but its bytes are still shown).
public func containsBytes(_ bytes: some Collection<UInt8>, _ part: some Collection<UInt8>) -> Bool {
    let haystack = Array(bytes), needle = Array(part)
    guard !needle.isEmpty else { return true }
    guard haystack.count >= needle.count else { return false }
    return (0...(haystack.count - needle.count)).contains { start in haystack[start..<(start + needle.count)].elementsEqual(needle) }
}
