import VolleyJSON

/// A tool call the fake model makes: the first tool of the request, with placeholder arguments
/// built from its JSON schema's required properties (`"fake"`, `0`, `false`, `[]`, `{}` by type).
struct FakeToolCall: Sendable, Equatable {
    var name: String
    var arguments: JSONValue

    init(tool: FakeChatRequest.Tool) {
        self.name = tool.name
        var members = JSONObject()
        if let properties = tool.schema?["properties"], case .object(let declared) = properties {
            let required = Set((tool.schema?["required"]?.arrayValue ?? []).compactMap(\.stringValue))
            for (property, schema) in declared where required.contains(property) {
                members.updateValue(Self.placeholder(for: schema["type"]?.stringValue), forKey: property)
            }
        }
        self.arguments = .object(members)
    }

    /// The arguments as the JSON text OpenAI puts in `function.arguments`.
    var argumentsText: String { arguments.jsonString }

    /// Tokens charged for the call: the name and arguments at four characters a token, plus one.
    var outputTokens: Int {
        FakeTokenizer.promptTokens(characterCount: name.unicodeScalars.count + argumentsText.unicodeScalars.count) + 1
    }

    private static func placeholder(for type: String?) -> JSONValue {
        switch type {
        case "integer", "number": return .number(0)
        case "boolean": return .bool(false)
        case "array": return .array([])
        case "object": return .object([:])
        case "null": return .null
        default: return .string("fake")
        }
    }
}
