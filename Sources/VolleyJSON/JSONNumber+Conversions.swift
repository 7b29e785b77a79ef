extension JSONNumber {
    /// The exact value as an `Int` when the number is an integer that fits, else `nil`.
    ///
    /// Exactness is decided on the decimal text, never through `Double`: `1e3`, `1.0` and
    /// `12.50e1` are integers (1000, 1, 125); `1.5`, `1e-1` and `9223372036854775808` are not.
    /// `-0` is 0. This matches JSON Schema's idea of an integer.
    public var int: Int? {
        if let plain = Int(text) {
            return plain
        }
        return Self.exactInteger(fromDecimalText: text)
    }

    /// The nearest `Double`, or `nil` when the magnitude is beyond `Double`'s finite range.
    ///
    /// Values too small to represent round to zero, as every JSON reader does.
    public var double: Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// Decodes `[-]digits[.digits][e[+-]digits]` exactly; `nil` if not integral or out of range.
    private static func exactInteger(fromDecimalText text: String) -> Int? {
        var digits: [UInt8] = []
        var isNegative = false
        var fractionDigitCount = 0
        var inFraction = false
        var inExponent = false
        var exponentIsNegative = false
        var exponent = 0
        // Past this an exponent only matters as "huge"; clamping keeps the arithmetic safe.
        let exponentClamp = 1_000_000
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "-"):
                if inExponent { exponentIsNegative = true } else { isNegative = true }
            case UInt8(ascii: "+"):
                continue
            case UInt8(ascii: "."):
                inFraction = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                inExponent = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let digit = byte &- UInt8(ascii: "0")
                if inExponent {
                    exponent = min(exponent * 10 + Int(digit), exponentClamp)
                } else {
                    digits.append(digit)
                    if inFraction { fractionDigitCount += 1 }
                }
            default:
                return nil
            }
        }
        guard let first = digits.firstIndex(where: { $0 != 0 }) else { return 0 }
        var scale = (exponentIsNegative ? -exponent : exponent) - fractionDigitCount
        var end = digits.count
        while digits[end - 1] == 0 {
            end -= 1
            scale += 1
        }
        // Int.max has 19 digits: anything longer cannot fit.
        guard scale >= 0, end - first + scale <= 19 else { return nil }
        // Accumulate negatively so Int.min is reachable.
        var value = 0
        for digit in digits[first..<end] {
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = shifted.subtractingReportingOverflow(Int(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = next
        }
        for _ in 0..<scale {
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            value = shifted
        }
        if isNegative { return value }
        guard value != Int.min else { return nil }
        return -value
    }
}
