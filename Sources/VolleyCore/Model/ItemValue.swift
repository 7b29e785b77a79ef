/// A successful item's result, normalised across providers.
public struct ItemValue: Sendable, Hashable {
    /// The assistant's text (concatenated text parts); nil when the reply has none (tool calls only).
    public var text: String?
    /// `stop`, `length`, `tool_calls`, `content_filter`, ... (Anthropic's stop reasons are mapped).
    public var finishReason: String?
    public var model: String?
    public var usage: Usage?
    /// OpenAI-shaped tool calls (`[{id, type: "function", function: {name, arguments}}]`).
    public var toolCalls: JSONValue?
    /// The provider's whole response body, when the item asked for it (`"raw": true`).
    public var raw: JSONValue?
    /// Members of an endpoint's value beyond the chat ones, already JSON (`"name":value,...`):
    /// embeddings' vectors, a raw call's body, copied from the provider's reply, never parsed
    /// into a tree.
    public var members: RawMembers?

    public init(text: String?, finishReason: String?, model: String?, usage: Usage?, toolCalls: JSONValue? = nil, raw: JSONValue? = nil) {
        self.text = text
        self.finishReason = finishReason
        self.model = model
        self.usage = usage
        self.toolCalls = toolCalls
        self.raw = raw
    }

    /// The outcome's `value` object.
    public var json: JSONValue {
        var object: JSONObject = [:]
        object["text"] = text.map(JSONValue.string) ?? .null
        object["finish_reason"] = finishReason.map(JSONValue.string) ?? .null
        object["model"] = model.map(JSONValue.string) ?? .null
        object["usage"] = usage?.json ?? .null
        if let toolCalls { object["tool_calls"] = toolCalls }
        if let raw { object["raw"] = raw }
        if let members, case .object(let more)? = try? JSONParser.parse([UInt8(ascii: "{")] + members.bytes + [UInt8(ascii: "}")]) {
            for (name, value) in more { object[name] = value }
        }
        return .object(object)
    }
}

/// Object members as JSON text (`"a":1,"b":[2]`, no braces, no leading comma), written into a
/// value as they are.
public struct RawMembers: Sendable, Hashable {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Appends `"name":` then `value` (JSON text, written as it is).
    public mutating func append(_ name: String, json value: some Sequence<UInt8>) {
        if !bytes.isEmpty { bytes.append(UInt8(ascii: ",")) }
        JSONWriter.writeString(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        bytes.append(contentsOf: value)
    }

    public mutating func append(_ name: String, _ value: JSONValue) {
        var text: [UInt8] = []
        value.write(into: &text)
        append(name, json: text)
    }
}
