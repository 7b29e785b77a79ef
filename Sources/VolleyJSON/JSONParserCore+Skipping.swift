// Skipping: every value checked as strictly as parsing, nothing built (for `validate`,
// selections and the reader).
extension JSONParserCore {
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

    mutating func skipArray() throws(JSONParseError) {
        if try openContainer(closing: UInt8(ascii: "]")) { return }
        repeat {
            try skipValue()
        } while try !endOfElement(closing: UInt8(ascii: "]"))
    }

    mutating func skipObject() throws(JSONParseError) {
        if try openContainer(closing: UInt8(ascii: "}")) { return }
        repeat {
            guard position < count, byte(at: position) == UInt8(ascii: "\"") else { throw unexpected() }
            try skipString()
            try expectColon()
            try skipValue()
        } while try !endOfMember()
    }

    /// Advances over a string starting at its opening quote.
    mutating func skipString() throws(JSONParseError) {
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
    mutating func skipEscape() throws(JSONParseError) {
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
}
