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
        return .object(object)
    }
}
