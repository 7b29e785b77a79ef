/// A JSON number stored as the exact literal text it was parsed or created with.
///
/// Keeping the text lets provider bodies pass through untouched: `12345678901234567890`, `1.10`,
/// `-0` and `1E+2` are written back byte for byte. Equality and hashing compare the text, so `1`
/// and `1.0` are different numbers; compare ``int`` or ``double`` for numeric equality.
public struct JSONNumber: Sendable, Hashable {
    /// The literal text; always one valid JSON number (RFC 8259 grammar, no whitespace).
    public let text: String

    /// Wraps text the parser has already validated.
    init(uncheckedText text: String) {
        self.text = text
    }

    /// Creates a number from JSON number text, or `nil` unless `text` is exactly one JSON number.
    ///
    /// `"1.10"` keeps its trailing zero; `"+1"`, `"01"`, `".5"`, `"NaN"` and `" 1"` are rejected.
    public init?(text: String) {
        guard case .number(let number)? = try? JSONParser.parse(text),
              number.text.utf8.count == text.utf8.count  // no surrounding whitespace
        else { return nil }
        self = number
    }

    /// Creates a number from any integer, written in decimal.
    public init(_ value: some BinaryInteger) {
        self.text = String(value)
    }

    /// Creates a number from a finite double, or `nil` for NaN and infinities.
    ///
    /// The text is the shortest one that reads back as the same double (`0.1`, `1e-07`,
    /// `1e+20`); integral values keep a fraction (`3.0`), which every JSON reader accepts.
    public init?(_ value: Double) {
        guard value.isFinite else { return nil }
        self.text = value.description
    }
}

extension JSONNumber: CustomStringConvertible {
    /// The literal text.
    public var description: String {
        text
    }
}
