/// The recursive-descent parser behind ``JSONParser``, reading straight from borrowed bytes.
///
/// Recursion depth is bounded by `maxDepth`; each level costs one `parseValue` and one
/// container frame.
struct JSONParserCore {
    let base: UnsafeRawPointer
    let count: Int
    private let maxDepth: Int
    var position = 0
    var depth = 0
    /// Reused for strings with escapes, so each one does not allocate a fresh buffer.
    private var scratch: [UInt8] = []
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

    /// The length of the well-formed UTF-8 sequence starting at `offset` (a non-ASCII lead byte),
    /// or `nil` when it is invalid or cut short (RFC 3629 table 3-7).
    @inline(__always)
    private func utf8SequenceLength(at offset: Int) -> Int? {
        let lead = byte(at: offset)
        let length: Int
        var secondLow: UInt8 = 0x80
        var secondHigh: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondLow = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondHigh = 0x9F
        case 0xF0: length = 4; secondLow = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondHigh = 0x8F
        default: return nil
        }
        guard offset + length <= count else { return nil }
        let second = byte(at: offset + 1)
        guard second >= secondLow, second <= secondHigh else { return nil }
        var next = offset + 2
        while next < offset + length {
            guard byte(at: next) & 0xC0 == 0x80 else { return nil }
            next += 1
        }
        return length
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

    // MARK: - Skipping (checked as strictly as parsing, nothing built)

    mutating func skipValue() throws(JSONParseError) {
        guard position < count else { throw error(.unexpectedEndOfInput, at: count) }
        switch byte(at: position) {
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "{"):
            try skipObject()
        case UInt8(ascii: "["):
            try skipArray()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try skipNumber()
        case UInt8(ascii: "t"):
            try expectLiteral("true")
        case UInt8(ascii: "f"):
            try expectLiteral("false")
        case UInt8(ascii: "n"):
            try expectLiteral("null")
        default:
            throw unexpected()
        }
    }

    private mutating func skipArray() throws(JSONParseError) {
        if try openContainer(closing: UInt8(ascii: "]")) { return }
        repeat {
            try skipValue()
        } while try !endOfElement(closing: UInt8(ascii: "]"))
    }

    private mutating func skipObject() throws(JSONParseError) {
        if try openContainer(closing: UInt8(ascii: "}")) { return }
        repeat {
            guard position < count, byte(at: position) == UInt8(ascii: "\"") else { throw unexpected() }
            try skipString()
            try expectColon()
            try skipValue()
        } while try !endOfMember()
    }

    /// Advances over a string starting at its opening quote.
    private mutating func skipString() throws(JSONParseError) {
        position += 1
        while position < count {
            let current = byte(at: position)
            if current == UInt8(ascii: "\"") {
                position += 1
                return
            }
            if current == UInt8(ascii: "\\") {
                try skipEscape()
                continue
            }
            try skipStringByte(current)
        }
        throw error(.unexpectedEndOfInput, at: count)
    }

    /// Checks one escape starting at its backslash (a lone surrogate is accepted, as in parsing).
    private mutating func skipEscape() throws(JSONParseError) {
        let (letter, escapeStart) = try escapeLetter()
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return
        case UInt8(ascii: "u"):
            _ = try parseHex4(escapeStart: escapeStart)
        default:
            throw error(.invalidEscape, at: escapeStart)
        }
    }

    // MARK: - Numbers

    mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = position
        try skipNumber()
        let text = String(decoding: slice(start, position), as: UTF8.self)
        return JSONNumber(uncheckedText: text)
    }

    /// Advances over a number, checking its grammar.
    private mutating func skipNumber() throws(JSONParseError) {
        if byte(at: position) == UInt8(ascii: "-") {
            position += 1
        }
        guard position < count else { throw error(.unexpectedEndOfInput, at: count) }
        let first = byte(at: position)
        if first == UInt8(ascii: "0") {
            position += 1
            if position < count, isDigit(byte(at: position)) {
                throw error(.invalidNumber, at: position)
            }
        } else if isDigit(first) {
            try skipDigits()
        } else {
            throw unexpected(.invalidNumber)
        }
        if position < count, byte(at: position) == UInt8(ascii: ".") {
            position += 1
            try skipDigits()
        }
        if position < count, byte(at: position) | 0x20 == UInt8(ascii: "e") {
            position += 1
            if position < count, byte(at: position) == UInt8(ascii: "+") || byte(at: position) == UInt8(ascii: "-") {
                position += 1
            }
            try skipDigits()
        }
    }

    @inline(__always)
    private func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    /// Skips one or more digits; at least one is required.
    private mutating func skipDigits() throws(JSONParseError) {
        guard position < count else { throw error(.unexpectedEndOfInput, at: count) }
        guard isDigit(byte(at: position)) else { throw unexpected(.invalidNumber) }
        position += 1
        while position < count, isDigit(byte(at: position)) {
            position += 1
        }
    }

    // MARK: - Strings

    /// The input bytes `start..<end`, typed for `String(decoding:)` and `Array.append`. The
    /// memory is only ever read as bytes, which every binding of it allows.
    private func slice(_ start: Int, _ end: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: (base + start).assumingMemoryBound(to: UInt8.self), count: end - start)
    }

    /// Parses a string starting at its opening quote. Strings without escapes are built straight
    /// from the input; the first backslash switches to building in `scratch`.
    mutating func parseString() throws(JSONParseError) -> String {
        position += 1
        let start = position
        while position < count {
            let current = byte(at: position)
            if current == UInt8(ascii: "\"") {
                let string = String(decoding: slice(start, position), as: UTF8.self)
                position += 1
                return string
            }
            if current == UInt8(ascii: "\\") {
                scratch.removeAll(keepingCapacity: true)
                scratch.append(contentsOf: slice(start, position))
                return try parseEscapedString()
            }
            try skipStringByte(current)
        }
        throw error(.unexpectedEndOfInput, at: count)
    }

    /// Advances over one unescaped character (one to four bytes) inside a string.
    @inline(__always)
    private mutating func skipStringByte(_ current: UInt8) throws(JSONParseError) {
        if current < 0x20 {
            throw error(.controlCharacterInString, at: position)
        }
        if current < 0x80 {
            position += 1
            return
        }
        guard let length = utf8SequenceLength(at: position) else {
            throw error(.invalidUTF8, at: position)
        }
        position += length
    }

    private mutating func parseEscapedString() throws(JSONParseError) -> String {
        while position < count {
            let current = byte(at: position)
            if current == UInt8(ascii: "\"") {
                position += 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if current == UInt8(ascii: "\\") {
                try parseEscape()
                continue
            }
            let runStart = position
            try skipStringByte(current)
            while position < count {
                let next = byte(at: position)
                if next == UInt8(ascii: "\"") || next == UInt8(ascii: "\\") { break }
                try skipStringByte(next)
            }
            scratch.append(contentsOf: slice(runStart, position))
        }
        throw error(.unexpectedEndOfInput, at: count)
    }

    /// Consumes an escape's backslash and letter; returns the letter and where the escape began.
    private mutating func escapeLetter() throws(JSONParseError) -> (letter: UInt8, start: Int) {
        let start = position
        position += 1
        guard position < count else { throw error(.unexpectedEndOfInput, at: count) }
        let letter = byte(at: position)
        position += 1
        return (letter, start)
    }

    /// Decodes one escape starting at its backslash and appends its UTF-8 to `scratch`.
    private mutating func parseEscape() throws(JSONParseError) {
        let (letter, escapeStart) = try escapeLetter()
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(letter)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try parseHex4(escapeStart: escapeStart)
            appendScalar(try decodeUTF16Escape(firstUnit: unit))
        default:
            throw error(.invalidEscape, at: escapeStart)
        }
    }

    /// Combines a `\u` code unit with a following low-surrogate escape when there is one; a lone
    /// surrogate becomes U+FFFD (the escape after an unpaired high surrogate is left unread).
    private mutating func decodeUTF16Escape(firstUnit: UInt16) throws(JSONParseError) -> UInt32 {
        switch firstUnit {
        case 0xD800...0xDBFF:
            guard position + 6 <= count,
                  byte(at: position) == UInt8(ascii: "\\"),
                  byte(at: position + 1) == UInt8(ascii: "u")
            else { return 0xFFFD }
            let save = position
            position += 2
            let second = try parseHex4(escapeStart: save)
            guard (0xDC00...0xDFFF).contains(second) else {
                position = save
                return 0xFFFD
            }
            return 0x10000 + ((UInt32(firstUnit) - 0xD800) << 10) + (UInt32(second) - 0xDC00)
        case 0xDC00...0xDFFF:
            return 0xFFFD
        default:
            return UInt32(firstUnit)
        }
    }

    /// Reads four hex digits at `position`.
    private mutating func parseHex4(escapeStart: Int) throws(JSONParseError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard position < count else { throw error(.unexpectedEndOfInput, at: count) }
            let digit = byte(at: position)
            let nibble: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = digit - UInt8(ascii: "A") + 10
            default: throw error(.invalidEscape, at: escapeStart)
            }
            value = value << 4 | UInt16(nibble)
            position += 1
        }
        return value
    }

    /// Appends the UTF-8 encoding of a scalar value (never a surrogate here).
    private mutating func appendScalar(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | (scalar >> 6)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | (scalar >> 12)))
            scratch.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            scratch.append(UInt8(0xF0 | (scalar >> 18)))
            scratch.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }
}
