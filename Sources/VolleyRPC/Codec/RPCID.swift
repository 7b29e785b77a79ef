import VolleyJSON

/// A JSON-RPC request id, echoed back exactly as the host sent it.
///
/// Numbers keep their literal text (a 30-digit id or `1.0` is echoed byte for byte), strings
/// their Unicode content. `null` is the id of replies to messages whose id could not be read
/// (parse errors, invalid requests) and of requests that really sent `"id": null`.
public enum RPCID: Sendable, Hashable {
    /// A numeric id, as its literal text.
    case number(JSONNumber)
    /// A string id.
    case string(String)
    /// `null`.
    case null

    /// Reads an id from its JSON value; `nil` for booleans, arrays and objects, which are not ids.
    public init?(_ value: JSONValue) {
        switch value {
        case .number(let number): self = .number(number)
        case .string(let string): self = .string(string)
        case .null: self = .null
        case .bool, .array, .object: return nil
        }
    }

    /// The id as a JSON value.
    public var jsonValue: JSONValue {
        switch self {
        case .number(let number): .number(number)
        case .string(let string): .string(string)
        case .null: .null
        }
    }
}

extension RPCID: CustomStringConvertible {
    /// The id as JSON text, e.g. `7` or `"abc"`.
    public var description: String {
        jsonValue.jsonString
    }
}
