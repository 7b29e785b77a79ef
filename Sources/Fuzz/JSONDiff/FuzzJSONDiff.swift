import Foundation
import FuzzSupport
import VolleyJSON

// fuzz-json-diff: VolleyJSON's parser against Foundation's `JSONSerialization` on the same
// bytes (the whole input is the document). Both must build the same value (numbers compared
// as numbers, objects as dictionaries, strings scalar by scalar) or both must reject it.
//
// Where they differ by design (docs/architecture.md, "Fuzzing", lists each), the difference
// is recognised on the input itself, never by giving up on the comparison:
// - Foundation skips a UTF-8 byte order mark and reads UTF-16/32 text; VolleyJSON reads
//   UTF-8 only (RFC 8259 §8.1). The document without its BOM must then agree.
// - Foundation accepts a trailing comma (`[1,]`, `{"a":1,}`); VolleyJSON is strict. The
//   document without that comma must then agree.
// - Foundation rejects a `\u` escape of a lone surrogate; VolleyJSON reads it as U+FFFD
//   (JavaScript's `JSON.stringify` writes them).
// - Foundation rejects a number beyond Double's range (`1e400`); VolleyJSON keeps its text.
// - Foundation's objects are Swift dictionaries, whose `String` keys are equal when
//   canonically equivalent (`"é"`, `"e\u{301}"`): it keeps one of them. VolleyJSON keeps both,
//   as JSON compares names by code points; folded like Foundation's, the members must agree.
// - Foundation drops a raw U+FEFF that starts a string or follows an escape (it decodes each
//   run of characters as NSString does, which takes it for a byte order mark); VolleyJSON
//   keeps the character. The document without those must then read as Foundation read it.

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    Differential.agree(Array(input.rest), fixes: 1_000)
    return 0
}

@main
enum Main {
    static func main() { FuzzDriver.main(testOneInput) }
}

enum Differential {
    static func agree(_ bytes: [UInt8], fixes: Int) {
        let ours = Result { () throws(JSONParseError) in try JSONParser.parse(bytes) }
        let theirs = Result { try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) }
        switch (ours, theirs) {
        case (.success(let value), .success(let object)):
            if same(value, object) { return }
            // Foundation drops a raw U+FEFF that starts a run of a string's characters: the
            // same text without it must then read as Foundation read this.
            if let stripped = withoutLeadingByteOrderMarks(bytes), let strict = try? JSONParser.parse(stripped), same(strict, object) { return }
            require(false, "VolleyJSON read \(value), Foundation \(object)")
        case (.failure, .failure):
            break
        case (.failure(let error), .success(let object)):
            // Foundation is lenient here: the strict form of the same document must agree.
            if fixes > 0, let strict = strictForm(of: bytes, error: error) {
                agree(strict, fixes: fixes - 1)
                return
            }
            require(readsAsOtherEncoding(bytes), "VolleyJSON rejected (\(error)) what Foundation read as \(object)")
        case (.success(let value), .failure(let error)):
            require(hasLoneSurrogateEscape(bytes) || hasNumberBeyondDouble(value),
                    "VolleyJSON read \(value), Foundation rejected it: \(error)")
        }
    }

    // MARK: - Values

    static func same(_ value: JSONValue, _ object: Any) -> Bool {
        switch value {
        case .null:
            return object is NSNull
        case .bool(let flag):
            guard isBoolean(object), let number = object as? NSNumber else { return false }
            return number.boolValue == flag
        case .number(let number):
            guard !isBoolean(object), let theirs = object as? NSNumber else { return false }
            return same(number, theirs)
        case .string(let text):
            guard let theirs = object as? String else { return false }
            return Array(text.unicodeScalars) == Array(theirs.unicodeScalars)
        case .array(let elements):
            guard let theirs = object as? [Any], theirs.count == elements.count else { return false }
            return zip(elements, theirs).allSatisfy { same($0, $1) }
        case .object(let members):
            // Foundation's objects are `[String: Any]`: names that are canonically equivalent
            // (`"é"`, `"e\u{301}"`) are one key there, the last value winning. VolleyJSON keeps
            // them apart, as JSON does (RFC 8259 §8.3); folded the same way, they must agree.
            var folded: [String: JSONValue] = [:]
            for (key, value) in members { folded[key] = value }
            guard let theirs = object as? [String: Any], theirs.count == folded.count else { return false }
            return folded.allSatisfy { member in theirs[member.key].map { same(member.value, $0) } ?? false }
        }
    }

    /// Foundation's booleans are NSNumbers of their own class.
    static func isBoolean(_ object: Any) -> Bool {
        String(describing: type(of: object)).contains("Boolean")
    }

    /// An integer Foundation kept exactly (an integer NSNumber or an NSDecimalNumber) must be
    /// the same integer; a floating-point one the same Double.
    static func same(_ number: JSONNumber, _ theirs: NSNumber) -> Bool {
        if let decimal = theirs as? NSDecimalNumber {
            return Decimal(string: number.text, locale: Locale(identifier: "en_US_POSIX")) == decimal.decimalValue
        }
        switch String(cString: theirs.objCType) {
        case "d", "f":
            return number.double == theirs.doubleValue
        case "Q":
            return Decimal(string: number.text, locale: Locale(identifier: "en_US_POSIX")) == Decimal(theirs.uint64Value)
        default:
            return number.int == Int(theirs.int64Value) || number.double == theirs.doubleValue && number.int == nil
        }
    }

    // MARK: - Intended differences, recognised on the input

    /// The document with what Foundation tolerates and RFC 8259 does not removed: a UTF-8
    /// byte order mark in front, or the comma before the `]` or `}` where VolleyJSON stopped.
    static func strictForm(of bytes: [UInt8], error: JSONParseError) -> [UInt8]? {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { return Array(bytes.dropFirst(3)) }
        let offset = error.offset
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: "]") || bytes[offset] == UInt8(ascii: "}") else { return nil }
        var comma = offset - 1
        while comma >= 0, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[comma]) { comma -= 1 }
        guard comma >= 0, bytes[comma] == UInt8(ascii: ",") else { return nil }
        var strict = bytes
        strict.remove(at: comma)
        return strict
    }

    /// Foundation guesses UTF-16 and UTF-32 from NUL bytes and byte order marks at the start.
    static func readsAsOtherEncoding(_ bytes: [UInt8]) -> Bool {
        bytes.prefix(4).contains(0) || bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE])
    }

    /// A `\uD800`–`\uDFFF` escape inside a string that is not half of a high-low pair.
    static func hasLoneSurrogateEscape(_ bytes: [UInt8]) -> Bool {
        var index = 0
        var inString = false
        var pendingHigh = false
        while index < bytes.count {
            let byte = bytes[index]
            if !inString {
                if byte == UInt8(ascii: "\"") { inString = true }
                index += 1
                continue
            }
            if byte == UInt8(ascii: "\"") {
                if pendingHigh { return true }
                inString = false
                index += 1
                continue
            }
            guard byte == UInt8(ascii: "\\"), index + 1 < bytes.count else {
                if pendingHigh { return true }
                index += 1
                continue
            }
            guard bytes[index + 1] == UInt8(ascii: "u"), index + 6 <= bytes.count,
                  let unit = UInt16(String(decoding: bytes[(index + 2)..<(index + 6)], as: UTF8.self), radix: 16) else {
                if pendingHigh { return true }
                index += 2
                continue
            }
            switch unit {
            case 0xD800...0xDBFF:
                if pendingHigh { return true }
                pendingHigh = true
            case 0xDC00...0xDFFF:
                if !pendingHigh { return true }
                pendingHigh = false
            default:
                if pendingHigh { return true }
            }
            index += 6
        }
        return pendingHigh
    }

    /// `bytes` without the raw U+FEFF (EF BB BF) that starts each run of a string's unescaped
    /// characters (right after the opening quote or an escape), or nil when there is none.
    /// Foundation decodes each run's UTF-8 as NSString does, which takes a leading U+FEFF for
    /// a byte order mark and drops it; one inside a run, or an escaped `\uFEFF`, it keeps.
    static func withoutLeadingByteOrderMarks(_ bytes: [UInt8]) -> [UInt8]? {
        var result: [UInt8] = []
        var inString = false
        var index = 0
        var found = false
        while index < bytes.count {
            let byte = bytes[index]
            result.append(byte)
            index += 1
            var runStarts = false
            if inString {
                if byte == UInt8(ascii: "\\"), index < bytes.count {
                    // The escape's letter, and a `\u`'s four digits.
                    let length = bytes[index] == UInt8(ascii: "u") ? 5 : 1
                    result.append(contentsOf: bytes[index..<min(bytes.count, index + length)])
                    index = min(bytes.count, index + length)
                    runStarts = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
                runStarts = true
            }
            if runStarts, bytes[index...].starts(with: [0xEF, 0xBB, 0xBF]) {
                index += 3
                found = true
            }
        }
        return found ? result : nil
    }

    /// A number whose magnitude no Double holds (`1e400`).
    static func hasNumberBeyondDouble(_ value: JSONValue) -> Bool {
        switch value {
        case .number(let number): number.double == nil
        case .array(let elements): elements.contains(where: hasNumberBeyondDouble)
        case .object(let members): members.values.contains(where: hasNumberBeyondDouble)
        default: false
        }
    }
}
