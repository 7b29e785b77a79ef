/// The recursive-descent parser behind ``JSONParser``, reading straight from borrowed bytes.
///
/// Recursion depth is bounded by `maxDepth`; each level costs one `parseValue` and one
/// container frame. Values and containers are here; strings, numbers and skipping are in
/// `JSONParserCore+Strings.swift`, `+Numbers.swift` and `+Skipping.swift` (one module, built
/// whole-module in release, so the split costs no inlining).
struct JSONParserCore {
    let base: UnsafeRawPointer
    let count: Int
    private let maxDepth: Int
    var position = 0
    var depth = 0
    /// Reused for strings with escapes, so each one does not allocate a fresh buffer.
    var scratch: [UInt8] = []
    /// The members and elements of the containers being parsed, innermost last. A container
    /// collects its children here and is built once at its end with the exact capacity,
    /// instead of growing its own array an allocation at a time.
    private var memberStack: [JSONObject.Element] = []
    private var elementStack: [JSONValue] = []

    /// Reads `count` bytes at `base`, which stay valid and unchanged while the parser runs.
    init(base: UnsafeRawPointer, count: Int, maxDepth: Int) {
        self.base = base
        self.count = count
        self.maxDepth = maxDepth
    }

    mutating func parseDocument(selecting selection: JSONSelection = .all) throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue(selecting: selection)
        try expectEndOfDocument()
        return value
    }

    /// Checks the document without building anything.
    mutating func validateDocument() throws(JSONParseError) {
        skipWhitespace()
        try skipValue()
        try expectEndOfDocument()
    }

    mutating func expectEndOfDocument() throws(JSONParseError) {
        skipWhitespace()
        if position < count {
            throw unexpected(.trailingData)
        }
    }

    // MARK: - Bytes

    /// The byte at `offset`; callers check `offset < count` first.
    @inline(__always)
    func byte(at offset: Int) -> UInt8 {
        base.load(fromByteOffset: offset, as: UInt8.self)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while position < count {
            switch byte(at: position) {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    func error(_ kind: JSONParseError.Kind, at offset: Int) -> JSONParseError {
        JSONParseError(kind: kind, offset: offset)
    }

    /// The error for the byte at `position`, which was not expected there: end of input, invalid
    /// UTF-8 if the byte starts no valid UTF-8 sequence, else `kind`.
    func unexpected(_ kind: JSONParseError.Kind = .unexpectedByte) -> JSONParseError {
        guard position < count else { return error(.unexpectedEndOfInput, at: count) }
        if byte(at: position) >= 0x80, utf8SequenceLength(at: position) == nil {
            return error(.invalidUTF8, at: position)
        }
        return error(kind, at: position)
    }

    // MARK: - Values

    /// Parses the value at `position`, building only what `selection` keeps.
    private mutating func parseValue(selecting selection: JSONSelection) throws(JSONParseError) -> JSONValue {
        if selection.keepsAll { return try parseValue() }
        guard position < count else { throw error(.unexpectedEndOfInput, at: count) }
        switch byte(at: position) {
        case UInt8(ascii: "{"): return try parseObject(keeping: selection)
        case UInt8(ascii: "["): return try parseArray(elements: selection)
        default: return try parseValue()
        }
    }

    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard position < count else { throw error(.unexpectedEndOfInput, at: count) }
        switch byte(at: position) {
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "{"):
            return try parseObject()
        case UInt8(ascii: "["):
            return try parseArray(elements: .all)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        default:
            throw unexpected()
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let start = position
        let expected = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for (index, expectedByte) in expected.enumerated() {
            let offset = start + index
            guard offset < count else { throw error(.unexpectedEndOfInput, at: count) }
            guard byte(at: offset) == expectedByte else {
                position = offset
                throw unexpected(.invalidLiteral)
            }
        }
        position = start + expected.count
    }

    mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        if depth > maxDepth {
            throw error(.depthLimitExceeded, at: position)
        }
        position += 1
        skipWhitespace()
    }

    /// Enters the array or object at `position`; true when it is empty (and already closed).
    mutating func openContainer(closing: UInt8) throws(JSONParseError) -> Bool {
        try enterContainer()
        guard position < count, byte(at: position) == closing else { return false }
        position += 1
        depth -= 1
        return true
    }

    /// After an element or member: true at the container's `closing` byte (consumed), false
    /// after a comma.
    mutating func endOfElement(closing: UInt8) throws(JSONParseError) -> Bool {
        skipWhitespace()
        guard position < count else { throw error(.unexpectedEndOfInput, at: count) }
        switch byte(at: position) {
        case UInt8(ascii: ","):
            position += 1
            skipWhitespace()
            return false
        case closing:
            position += 1
            depth -= 1
            return true
        default:
            throw unexpected()
        }
    }

    /// Parses an array, each element under `elements`.
    private mutating func parseArray(elements selection: JSONSelection) throws(JSONParseError) -> JSONValue {
        if try openContainer(closing: UInt8(ascii: "]")) { return .array([]) }
        let first = elementStack.count
        repeat {
            let element = try parseValue(selecting: selection)
            elementStack.append(element)
        } while try !endOfElement(closing: UInt8(ascii: "]"))
        let elements = Array(elementStack[first...])
        elementStack.removeSubrange(first...)
        return .array(elements)
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        if try openContainer(closing: UInt8(ascii: "}")) { return .object(JSONObject()) }
        let first = memberStack.count
        repeat {
            guard position < count, byte(at: position) == UInt8(ascii: "\"") else { throw unexpected() }
            let key = try parseString()
            try expectColon()
            let value = try parseValue()
            memberStack.append((key: key, value: value))
        } while try !endOfMember()
        return .object(takeMembers(from: first))
    }

    /// The object of the members collected since `first`, which leave the stack.
    private mutating func takeMembers(from first: Int) -> JSONObject {
        let object = JSONObject(members: memberStack[first...])
        memberStack.removeSubrange(first...)
        return object
    }

    /// Parses an object building only the members `selection` keeps (each under its own
    /// selection); the others are checked and skipped. Plain ASCII keys are matched as raw
    /// bytes, so a skipped member costs no string.
    private mutating func parseObject(keeping selection: JSONSelection) throws(JSONParseError) -> JSONValue {
        if try openContainer(closing: UInt8(ascii: "}")) { return .object(JSONObject()) }
        let first = memberStack.count
        repeat {
            guard position < count, byte(at: position) == UInt8(ascii: "\"") else { throw unexpected() }
            let member: JSONSelection.Member?
            if let end = plainKeyEnd(from: position + 1) {
                member = selection.member(matching: base, start: position + 1, count: end - position - 1)
                position = end + 1
            } else {
                // Escapes, non-ASCII or something invalid: the full string rules apply.
                member = selection.member(named: try parseString())
            }
            try expectColon()
            if let member {
                let value = try parseValue(selecting: member.selection)
                memberStack.append((key: member.name, value: value))
            } else {
                try skipValue()
            }
        } while try !endOfMember()
        return .object(takeMembers(from: first))
    }

    /// The offset of the closing quote of a key starting at `start` when every byte before it
    /// is printable ASCII other than a backslash (such a key needs no decoding and has no
    /// error to report); nil otherwise.
    func plainKeyEnd(from start: Int) -> Int? {
        var offset = start
        while offset < count {
            let current = byte(at: offset)
            if current == UInt8(ascii: "\"") { return offset }
            if current < 0x20 || current >= 0x80 || current == UInt8(ascii: "\\") { return nil }
            offset += 1
        }
        return nil
    }

    mutating func expectColon() throws(JSONParseError) {
        skipWhitespace()
        guard position < count, byte(at: position) == UInt8(ascii: ":") else { throw unexpected() }
        position += 1
        skipWhitespace()
    }

    /// After a member's value: true at the object's closing brace, false after a comma.
    mutating func endOfMember() throws(JSONParseError) -> Bool {
        try endOfElement(closing: UInt8(ascii: "}"))
    }
}
