// Strings: UTF-8 validation, escapes, surrogate pairs.
extension JSONParserCore {
    /// The length of the well-formed UTF-8 sequence starting at `offset` (a non-ASCII lead byte),
    /// or `nil` when it is invalid or cut short (RFC 3629 table 3-7).
    @inline(__always)
    func utf8SequenceLength(at offset: Int) -> Int? {
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

    /// The input bytes `start..<end`, typed for `String(decoding:)` and `Array.append`. The
    /// memory is only ever read as bytes, which every binding of it allows.
    func slice(_ start: Int, _ end: Int) -> UnsafeBufferPointer<UInt8> {
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
    mutating func skipStringByte(_ current: UInt8) throws(JSONParseError) {
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

    mutating func parseEscapedString() throws(JSONParseError) -> String {
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
    mutating func escapeLetter() throws(JSONParseError) -> (letter: UInt8, start: Int) {
        let start = position
        position += 1
        guard position < count else { throw error(.unexpectedEndOfInput, at: count) }
        let letter = byte(at: position)
        position += 1
        return (letter, start)
    }

    /// Decodes one escape starting at its backslash and appends its UTF-8 to `scratch`.
    mutating func parseEscape() throws(JSONParseError) {
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
    mutating func decodeUTF16Escape(firstUnit: UInt16) throws(JSONParseError) -> UInt32 {
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
    mutating func parseHex4(escapeStart: Int) throws(JSONParseError) -> UInt16 {
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
    mutating func appendScalar(_ scalar: UInt32) {
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
