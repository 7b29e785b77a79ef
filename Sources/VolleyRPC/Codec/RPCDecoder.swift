import VolleyJSON

/// Decodes one input line into JSON-RPC 2.0 messages.
///
/// Classification follows the JSON-RPC 2.0 specification: a request needs `"jsonrpc": "2.0"`, a
/// string `method`, `params` (if present) an object or array, and `id` (if present) a string,
/// number or `null`; a message without `id` is a notification. Anything else is an invalid
/// request (-32600), answered with its id when the id itself was valid. Objects carrying
/// `result` or `error` are responses, which a host never sends to us: also invalid.
public enum RPCDecoder {
    /// Decodes one line (without its newline).
    public static func decode(line: [UInt8]) -> RPCInbound {
        let value: JSONValue
        do throws(JSONParseError) {
            value = try JSONParser.parse(line)
        } catch {
            return .parseError(.parseError(error))
        }
        guard case .array(let members) = value else {
            return .single(message(from: value))
        }
        guard !members.isEmpty else {
            return .single(.invalid(id: .null, .invalidRequest("empty batch")))
        }
        return .batch(members.map(message(from:)))
    }

    /// Classifies one parsed message.
    public static func message(from value: JSONValue) -> RPCMessage {
        guard case .object(let object) = value else {
            return .invalid(id: .null, .invalidRequest("a request must be a JSON object"))
        }
        var id: RPCID?
        if let idValue = object["id"] {
            guard let valid = RPCID(idValue) else {
                return .invalid(id: .null, .invalidRequest("id must be a string, a number or null"))
            }
            id = valid
        }
        let replyID = id ?? .null
        guard object["jsonrpc"] == "2.0" else {
            return .invalid(id: replyID, .invalidRequest(#"jsonrpc must be "2.0""#))
        }
        guard object["result"] == nil, object["error"] == nil else {
            return .invalid(id: replyID, .invalidRequest("responses are not accepted"))
        }
        guard case .string(let method)? = object["method"] else {
            return .invalid(id: replyID, .invalidRequest("method must be a string"))
        }
        let params = object["params"]
        switch params {
        case nil, .array?, .object?:
            break
        default:
            return .invalid(id: replyID, .invalidRequest("params must be an object or an array"))
        }
        guard let id else {
            return .notification(method: method, params: params)
        }
        return .request(id: id, method: method, params: params)
    }
}
