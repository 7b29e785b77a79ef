import VolleyJSON

/// A JSON-RPC error object: what a failed request is answered with.
///
/// Method handlers may `throw` it; the factory methods in `RPCError+Standard.swift` build the
/// protocol's errors with consistent messages and `data`.
public struct RPCError: Error, Sendable, Hashable {
    /// The error code.
    public var code: RPCErrorCode
    /// One short sentence for humans; hosts switch on ``code`` and ``data``, not on this.
    public var message: String
    /// Structured details, omitted from the reply when `nil`.
    public var data: JSONValue?

    /// Creates an error object.
    public init(code: RPCErrorCode, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// The error object as JSON: `{"code":..,"message":..,"data":..}` (no `data` when `nil`).
    public var jsonValue: JSONValue {
        var object: JSONObject = ["code": JSONValue(code.rawValue), "message": .string(message)]
        if let data {
            object["data"] = data
        }
        return .object(object)
    }
}
