import VolleyJSON

extension JSONValue {
    /// A computed number written as the fake server always has: an integral value below 9e15
    /// without a fraction (`5`, where ``JSONNumber/init(_:)-(Double)`` writes `5.0`), any other
    /// finite value as its shortest round-trip text, and NaN or an infinity as `null`.
    static func fakeNumber(_ value: Double) -> JSONValue {
        guard value.isFinite else { return .null }
        if value.rounded() == value, abs(value) < 9.0e15 { return JSONValue(Int(value)) }
        return JSONValue(value)
    }

    /// The value as a plain scalar string: a string as itself, a boolean as `true` or `false`,
    /// a number read as a `Double` and written as ``fakeNumber(_:)`` does (so `5.0` and `5e0`
    /// both read as `5`); `nil` for `null`, arrays and objects. For scripting values, which may
    /// come from a header (always text) or from a JSON body.
    var scalarText: String? {
        switch self {
        case .string(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number):
            guard let value = number.double else { return number.text }
            return JSONValue.fakeNumber(value).jsonString
        default: return nil
        }
    }
}
