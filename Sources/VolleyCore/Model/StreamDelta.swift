/// A piece of a streamed answer, as the provider wrote it (docs/protocol.md, "Token streaming").
public struct StreamDelta: Sendable, Equatable {
    /// The next piece of the answer's text.
    public var text: String?
    /// Pieces of tool calls.
    public var toolCalls: [ToolCallDelta]

    public init(text: String? = nil, toolCalls: [ToolCallDelta] = []) {
        self.text = text
        self.toolCalls = toolCalls
    }

    public var isEmpty: Bool { (text?.isEmpty ?? true) && toolCalls.isEmpty }

    /// Appends `next` (of the same item and attempt): texts concatenated, fragments of one
    /// call joined when they follow each other.
    public mutating func merge(_ next: StreamDelta) {
        if let more = next.text { text = (text ?? "") + more }
        for call in next.toolCalls {
            if let last = toolCalls.last, last.index == call.index, call.id == nil || call.id == last.id,
               call.name == nil || last.name == nil || call.name == last.name {
                toolCalls[toolCalls.count - 1].id = last.id ?? call.id
                toolCalls[toolCalls.count - 1].name = last.name ?? call.name
                if let arguments = call.arguments {
                    toolCalls[toolCalls.count - 1].arguments = (last.arguments ?? "") + arguments
                }
            } else {
                toolCalls.append(call)
            }
        }
    }

    /// The `delta` notification's members after `request`, `index` and `attempt`.
    public var json: JSONObject {
        var object: JSONObject = [:]
        if let text { object["text"] = .string(text) }
        if !toolCalls.isEmpty { object["tool_calls"] = .array(toolCalls.map { .object($0.json) }) }
        return object
    }
}

/// A piece of one tool call: its position, its id and name (with its first piece), and the
/// next fragment of its JSON arguments.
public struct ToolCallDelta: Sendable, Equatable {
    public var index: Int
    public var id: String?
    public var name: String?
    public var arguments: String?

    public init(index: Int, id: String? = nil, name: String? = nil, arguments: String? = nil) {
        self.index = index
        self.id = id
        self.name = name
        self.arguments = arguments
    }

    var json: JSONObject {
        var object: JSONObject = ["index": .number(JSONNumber(index))]
        if let id { object["id"] = .string(id) }
        if let name { object["name"] = .string(name) }
        if let arguments { object["arguments"] = .string(arguments) }
        return object
    }
}

/// What a batch's host hears of its streamed items, besides outcomes.
public enum StreamEvent: Sendable, Equatable {
    /// A piece of item `index`'s answer, written by attempt `attempt`.
    case delta(index: Int, attempt: Int, StreamDelta)
    /// Every delta of item `index` so far is void: attempt `attempt` failed after writing some,
    /// and the next attempt starts the answer again.
    case reset(index: Int, attempt: Int)
}

/// Assembles a streamed answer from its deltas: the text and the OpenAI-shaped tool calls.
struct StreamAssembly {
    private(set) var text = ""
    private(set) var sawText = false
    private var calls: [(id: String?, name: String?, arguments: String)] = []

    mutating func add(_ delta: StreamDelta) {
        if let more = delta.text {
            text += more
            sawText = true
        }
        for call in delta.toolCalls where call.index >= 0 && call.index < 4_096 {
            while calls.count <= call.index { calls.append((nil, nil, "")) }
            if let id = call.id { calls[call.index].id = id }
            if let name = call.name { calls[call.index].name = name }
            if let arguments = call.arguments { calls[call.index].arguments += arguments }
        }
    }

    /// `[{id, type: "function", function: {name, arguments}}]`, nil when there were none.
    var toolCalls: JSONValue? {
        guard !calls.isEmpty else { return nil }
        return .array(calls.map { call in
            [
                "id": call.id.map(JSONValue.string) ?? .null,
                "type": "function",
                "function": ["name": call.name.map(JSONValue.string) ?? .null, "arguments": .string(call.arguments)],
            ]
        })
    }
}
