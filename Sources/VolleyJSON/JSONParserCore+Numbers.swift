// Numbers: the RFC 8259 grammar checked on the raw bytes; the text is kept, never converted.
extension JSONParserCore {
    mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = position
        try skipNumber()
        let text = String(decoding: slice(start, position), as: UTF8.self)
        return JSONNumber(uncheckedText: text)
    }

    /// Advances over a number, checking its grammar.
    mutating func skipNumber() throws(JSONParseError) {
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
    func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    /// Skips one or more digits; at least one is required.
    mutating func skipDigits() throws(JSONParseError) {
        guard position < count else { throw error(.unexpectedEndOfInput, at: count) }
        guard isDigit(byte(at: position)) else { throw unexpected(.invalidNumber) }
        position += 1
        while position < count, isDigit(byte(at: position)) {
            position += 1
        }
    }
}
