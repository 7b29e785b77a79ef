/// A JSON value, parsed from or written to bytes without loss.
///
/// Numbers keep the exact literal text they were parsed with (see ``JSONNumber``) and objects keep
/// their key order (see ``JSONObject``), so a provider body that is parsed and written again comes
/// out byte for byte the same apart from insignificant whitespace and string escapes.
///
/// Equality follows JSON semantics for objects (key order is ignored) but compares numbers by
/// their text: `1` and `1.0` are different values here. Compare ``JSONNumber/int`` or
/// ``JSONNumber/double`` when numeric equality is wanted.
public enum JSONValue: Sendable, Hashable {
    /// The literal `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, kept as its literal text.
    case number(JSONNumber)
    /// A string (always valid Unicode; the parser rejects invalid UTF-8).
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object whose keys keep their insertion order.
    case object(JSONObject)
}
