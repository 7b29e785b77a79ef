/// A small JSON value with ordered objects, used to read request bodies and write response bodies.
///
/// Objects keep their keys in insertion order so responses look like the real APIs' (`id` first,
/// `usage` last). Numbers are `Double`; integral values are written without a fraction.
/// Foundation's `JSONSerialization` is not used because its numbers and booleans are `NSNumber`s
/// on Linux, which makes "is this a bool or an int" ambiguous.
enum FakeJSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([FakeJSON])
    case object([(String, FakeJSON)])

    static func == (lhs: FakeJSON, rhs: FakeJSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value for `key` when this is an object (the last one if a key repeats), else nil.
    subscript(key: String) -> FakeJSON? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.0 == key })?.1
    }

    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var arrayValue: [FakeJSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The value as an integer when it is an integral number in `Int` range.
    var intValue: Int? {
        guard case .number(let d) = self, d.rounded() == d, abs(d) < 9.0e15 else { return nil }
        return Int(d)
    }

    static func int(_ value: Int) -> FakeJSON { .number(Double(value)) }

    /// The value written as compact JSON text (no spaces, keys in insertion order).
    var serialized: String {
        var out = ""
        out.reserveCapacity(256)
        write(to: &out)
        return out
    }

    /// The value as a plain scalar string: strings as themselves, numbers and booleans as JSON text.
    /// Used to read scripting values that may come from a header (always text) or a JSON body.
    var scalarText: String? {
        switch self {
        case .string(let s): return s
        case .number, .bool: return serialized
        default: return nil
        }
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let d): out += FakeJSON.format(number: d)
        case .string(let s): FakeJSON.writeString(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out += "," }
                FakeJSON.writeString(key, to: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        }
    }

    static func format(number d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d.rounded() == d, abs(d) < 9.0e15 { return String(Int(d)) }
        return String(d)
    }

    static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
