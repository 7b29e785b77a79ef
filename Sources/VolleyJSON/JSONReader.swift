/// Reads a JSON document front to back without building it: the caller walks objects and
/// arrays and takes only the values it wants, as strings, integers or `JSONValue`s; the rest
/// is skipped, checked by the same rules as ``JSONParser`` (the same errors at the same
/// offsets). For decoding a provider's reply, where a handful of fields of a large document
/// matter and building the whole tree was most of the cost.
///
/// The bytes must stay valid and unchanged while the reader is used. `package`, not `public`:
/// it is for this package's decoders (VolleyCore's providers), not an API to keep stable.
package struct JSONReader {
    private var core: JSONParserCore

    /// What the next value is, without consuming it.
    package enum Kind {
        case object, array, string, number, bool, null
    }

    package init(base: UnsafeRawPointer, count: Int, maxDepth: Int = JSONParser.defaultMaxDepth) {
        core = JSONParserCore(base: base, count: count, maxDepth: maxDepth)
        core.skipWhitespace()
    }

    /// The kind of the value at the current position.
    package func peek() throws(JSONParseError) -> Kind {
        guard core.position < core.count else { throw core.error(.unexpectedEndOfInput, at: core.count) }
        switch core.byte(at: core.position) {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw core.unexpected()
        }
    }

    /// Reads an object; `body` is called for each member with its key and must consume the
    /// member's value (read it or `skip()` it). A value that is not an object is skipped and
    /// the result is false.
    @discardableResult
    package mutating func readObject(_ body: (inout JSONReader, Key) throws(JSONParseError) -> Void) throws(JSONParseError) -> Bool {
        guard try peek() == .object else {
            try skip()
            return false
        }
        if try core.openContainer(closing: UInt8(ascii: "}")) { return true }
        repeat {
            guard core.position < core.count, core.byte(at: core.position) == UInt8(ascii: "\"") else { throw core.unexpected() }
            let key: Key
            if let end = core.plainKeyEnd(from: core.position + 1) {
                key = Key(raw: UnsafeRawBufferPointer(start: core.base + core.position + 1, count: end - core.position - 1))
                core.position = end + 1
            } else {
                key = Key(decoded: try core.parseString())
            }
            try core.expectColon()
            try body(&self, key)
        } while try !core.endOfMember()
        return true
    }

    /// Reads an array; `body` is called for each element with its index and must consume it.
    /// A value that is not an array is skipped and the result is false.
    @discardableResult
    package mutating func readArray(_ body: (inout JSONReader, Int) throws(JSONParseError) -> Void) throws(JSONParseError) -> Bool {
        guard try peek() == .array else {
            try skip()
            return false
        }
        if try core.openContainer(closing: UInt8(ascii: "]")) { return true }
        var index = 0
        repeat {
            try body(&self, index)
            index += 1
        } while try !core.endOfElement(closing: UInt8(ascii: "]"))
        return true
    }

    /// The string at the current position; any other value is skipped and gives nil.
    package mutating func readString() throws(JSONParseError) -> String? {
        guard try peek() == .string else {
            try skip()
            return nil
        }
        return try core.parseString()
    }

    /// The number at the current position as an exact `Int` (see `JSONNumber.int`); any
    /// other value is skipped and gives nil.
    package mutating func readInt() throws(JSONParseError) -> Int? {
        guard try peek() == .number else {
            try skip()
            return nil
        }
        return try core.parseNumber().int
    }

    /// The whole value at the current position.
    package mutating func readValue() throws(JSONParseError) -> JSONValue {
        try core.parseValue()
    }

    /// The current position: the offset of the next value (after whitespace), or just past
    /// the last one read.
    package var offset: Int { core.position }

    /// The byte range of the value at the current position, which is consumed (and checked):
    /// for copying a value's JSON text as it is, without building it.
    package mutating func readRange() throws(JSONParseError) -> Range<Int> {
        let start = core.position
        try core.skipValue()
        return start..<core.position
    }

    /// Skips the value at the current position (checking it).
    package mutating func skip() throws(JSONParseError) {
        try core.skipValue()
    }

    /// Checks that nothing but whitespace follows the document's value.
    package mutating func finish() throws(JSONParseError) {
        try core.expectEndOfDocument()
    }

    /// An object member's name: the raw bytes of a key without escapes (no string made), or
    /// the decoded string of one with escapes.
    package struct Key {
        private let raw: UnsafeRawBufferPointer?
        private let decoded: String?

        init(raw: UnsafeRawBufferPointer) {
            self.raw = raw
            decoded = nil
        }

        init(decoded: String) {
            raw = nil
            self.decoded = decoded
        }

        package static func == (key: Key, name: StaticString) -> Bool {
            let expected = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
            if let raw = key.raw { return Bytes.equal(raw, expected) }
            return key.decoded.map { $0.utf8.elementsEqual(expected) } ?? false
        }
    }
}
