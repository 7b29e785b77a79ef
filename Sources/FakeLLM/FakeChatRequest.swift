import VolleyJSON

/// The parts of a text-generating request body that shape the answer: OpenAI chat completions,
/// Anthropic messages, OpenAI responses, OpenAI legacy completions.
struct FakeChatRequest: Sendable, Equatable {
    /// A tool the request offers; the first one is what a scripted tool call uses.
    struct Tool: Sendable, Equatable {
        var name: String
        /// The JSON schema of the arguments (`function.parameters` / `input_schema`).
        var schema: JSONValue?
    }

    var model: String
    /// `ceil(characters / 4)` over every message's text (and `system`), see `FakeTokenizer`.
    var inputTokens: Int
    /// Text of the last `user` message, echoed in the reply.
    var lastUserText: String
    /// `max_completion_tokens` or `max_tokens` (OpenAI), `max_tokens` (Anthropic).
    var maxTokens: Int?
    var stream: Bool
    /// OpenAI `stream_options.include_usage`.
    var includeUsage: Bool
    var firstTool: Tool?
    /// Legacy completions' further prompts (`prompt` as an array of several): each is answered
    /// by a choice of its own that echoes it, as the first (`lastUserText`) is. Empty elsewhere.
    var morePrompts: [String] = []

    /// What a Responses API answer repeats of the request (`instructions`, `tools`, ...), from
    /// `ResponsesFormat.settings(of:)`. Empty for the other endpoints.
    var responseSettings: JSONObject = [:]

    /// The choices the answer has: one per prompt.
    var choiceCount: Int { 1 + morePrompts.count }

    /// Reads an OpenAI `POST /v1/chat/completions` body.
    static func openAI(_ body: JSONValue) throws(FakeRequestProblem) -> FakeChatRequest {
        guard case .object = body else { throw FakeRequestProblem("The request body must be a JSON object.") }
        let model = try FakeRequestFields.requiredModel(body)
        let messages = try requiredMessages(body)
        var characters = 0
        var lastUser = ""
        for (index, message) in messages.enumerated() {
            guard case .object = message, let role = message["role"]?.stringValue else {
                throw FakeRequestProblem("Invalid value for 'messages[\(index)]': expected an object with a 'role'.", param: "messages")
            }
            let text = openAIText(message["content"])
            characters += text.unicodeScalars.count
            if role == "user" { lastUser = text }
        }
        var maxTokens: Int?
        for key in ["max_completion_tokens", "max_tokens"] where maxTokens == nil {
            maxTokens = try FakeRequestFields.optionalPositiveInt(body, key)
        }
        var tool: Tool?
        if let first = body["tools"]?.arrayValue?.first, let name = first["function"]?["name"]?.stringValue {
            tool = Tool(name: name, schema: first["function"]?["parameters"])
        }
        return FakeChatRequest(
            model: model, inputTokens: FakeTokenizer.promptTokens(characterCount: characters), lastUserText: lastUser,
            maxTokens: maxTokens, stream: try FakeRequestFields.optionalBool(body, "stream"),
            includeUsage: body["stream_options"]?["include_usage"]?.boolValue ?? false, firstTool: tool)
    }

    /// Reads an Anthropic `POST /v1/messages` body (`max_tokens` is required, as there).
    static func anthropic(_ body: JSONValue) throws(FakeRequestProblem) -> FakeChatRequest {
        guard case .object = body else { throw FakeRequestProblem("The request body must be a JSON object.") }
        let model = try FakeRequestFields.requiredModel(body)
        guard let maxTokens = try FakeRequestFields.optionalPositiveInt(body, "max_tokens") else {
            throw FakeRequestProblem("max_tokens: Field required", param: "max_tokens")
        }
        let messages = try requiredMessages(body)
        var characters = anthropicText(body["system"]).unicodeScalars.count
        var lastUser = ""
        for (index, message) in messages.enumerated() {
            guard case .object = message, let role = message["role"]?.stringValue else {
                throw FakeRequestProblem("messages.\(index): expected an object with a 'role'", param: "messages")
            }
            let text = anthropicText(message["content"])
            characters += text.unicodeScalars.count
            if role == "user" { lastUser = text }
        }
        var tool: Tool?
        if let first = body["tools"]?.arrayValue?.first, let name = first["name"]?.stringValue {
            tool = Tool(name: name, schema: first["input_schema"])
        }
        return FakeChatRequest(
            model: model, inputTokens: FakeTokenizer.promptTokens(characterCount: characters), lastUserText: lastUser,
            maxTokens: maxTokens, stream: try FakeRequestFields.optionalBool(body, "stream"), includeUsage: false, firstTool: tool)
    }

    /// Reads an OpenAI `POST /v1/responses` body: `input` is a string (the user's message) or
    /// an array of items whose text counts (message `content`, function call `arguments`,
    /// function call `output`), plus `instructions`; the first tool with a name is the one a
    /// scripted tool call uses. `max_output_tokens` is at least 16, as there.
    static func responses(_ body: JSONValue) throws(FakeRequestProblem) -> FakeChatRequest {
        guard case .object = body else { throw FakeRequestProblem("The request body must be a JSON object.") }
        let model = try FakeRequestFields.requiredModel(body)
        var characters = 0
        switch body["instructions"] {
        case nil, .null?: break
        case .string(let text)?: characters += text.unicodeScalars.count
        case let other?:
            throw FakeRequestProblem(
                "Invalid type for 'instructions': expected a string, but got \(FakeRequestFields.typeName(other)) "
                    + "instead.", param: "instructions")
        }
        var lastUser = ""
        switch body["input"] {
        case nil, .null?:
            throw FakeRequestProblem("Missing required parameter: 'input'.", param: "input")
        case .string(let text)?:
            characters += text.unicodeScalars.count
            lastUser = text
        case .array(let items)?:
            guard !items.isEmpty else {
                throw FakeRequestProblem(
                    "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array "
                        + "instead.", param: "input")
            }
            for (index, item) in items.enumerated() {
                guard case .object = item else {
                    throw FakeRequestProblem(
                        "Invalid type for 'input[\(index)]': expected an input item, but got "
                            + "\(FakeRequestFields.typeName(item)) instead.", param: "input[\(index)]")
                }
                let text = responsesText(item)
                characters += text.unicodeScalars.count
                if item["role"]?.stringValue == "user" { lastUser = text }
            }
        case let other?:
            throw FakeRequestProblem(
                "Invalid type for 'input': expected one of a string or an array of input items, but got "
                    + "\(FakeRequestFields.typeName(other)) instead.", param: "input")
        }
        var tool: Tool?
        for candidate in body["tools"]?.arrayValue ?? [] {
            if let name = candidate["name"]?.stringValue {
                tool = Tool(name: name, schema: candidate["parameters"])
            } else if let name = candidate["function"]?["name"]?.stringValue {
                tool = Tool(name: name, schema: candidate["function"]?["parameters"])
            }
            if tool != nil { break }
        }
        return FakeChatRequest(
            model: model, inputTokens: FakeTokenizer.promptTokens(characterCount: characters), lastUserText: lastUser,
            maxTokens: try FakeRequestFields.optionalInt(body, "max_output_tokens", in: 16...Int.max),
            stream: try FakeRequestFields.optionalBool(body, "stream"), includeUsage: false, firstTool: tool,
            responseSettings: ResponsesFormat.settings(of: body))
    }

    /// Reads an OpenAI legacy `POST /v1/completions` body. `prompt` is a string, strings, token
    /// ids or token-id arrays (at most `FakeEmbeddingsRequest.maxInputs`); each prompt counts its
    /// tokens apart and is answered by a choice that echoes its text (nothing for token ids).
    static func completions(_ body: JSONValue) throws(FakeRequestProblem) -> FakeChatRequest {
        guard case .object = body else { throw FakeRequestProblem("The request body must be a JSON object.") }
        let model = try FakeRequestFields.requiredModel(body)
        guard let value = body["prompt"], !value.isNull else {
            throw FakeRequestProblem("Missing required parameter: 'prompt'.", param: "prompt")
        }
        let limit = FakeEmbeddingsRequest.maxInputs
        if let count = value.arrayValue?.count, count > limit {
            throw FakeRequestProblem(
                "Invalid 'prompt': array too long. Expected an array with maximum length \(limit), but got an array "
                    + "with length \(count) instead.", param: "prompt")
        }
        guard let prompts = FakeRequestFields.prompts(value), let first = prompts.first else {
            throw FakeRequestProblem(
                "'$.prompt' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")
        }
        return FakeChatRequest(
            model: model, inputTokens: prompts.reduce(0) { $0 + $1.tokenCount }, lastUserText: first.text,
            maxTokens: try FakeRequestFields.optionalPositiveInt(body, "max_tokens"),
            stream: try FakeRequestFields.optionalBool(body, "stream"),
            includeUsage: body["stream_options"]?["include_usage"]?.boolValue ?? false, firstTool: nil,
            morePrompts: prompts.dropFirst().map(\.text))
    }

    // MARK: Field helpers

    private static func requiredMessages(_ body: JSONValue) throws(FakeRequestProblem) -> [JSONValue] {
        guard let messages = body["messages"]?.arrayValue else {
            throw FakeRequestProblem("Missing required parameter: 'messages'.", param: "messages")
        }
        guard !messages.isEmpty else {
            throw FakeRequestProblem("Invalid 'messages': empty array. Expected an array with minimum length 1.", param: "messages")
        }
        return messages
    }

    /// OpenAI content: a string, or an array of parts whose `text` parts count.
    private static func openAIText(_ content: JSONValue?) -> String {
        switch content {
        case .string(let text): return text
        case .array(let parts): return parts.compactMap { $0["text"]?.stringValue }.joined()
        default: return ""
        }
    }

    /// A Responses API input item's text: a message's `content`, a function call output's
    /// `output` (a string, or parts whose `text` counts), a function call's `arguments`.
    private static func responsesText(_ item: JSONValue) -> String {
        if let content = item["content"] { return openAIText(content) }
        if let output = item["output"] { return openAIText(output) }
        return item["arguments"]?.stringValue ?? ""
    }

    /// Anthropic content or system: a string, or blocks whose `text` (or `tool_result` content) counts.
    private static func anthropicText(_ content: JSONValue?) -> String {
        switch content {
        case .string(let text): return text
        case .array(let blocks):
            return blocks.map { block in
                if let text = block["text"]?.stringValue { return text }
                if block["type"]?.stringValue == "tool_result" { return anthropicText(block["content"]) }
                return ""
            }.joined()
        default: return ""
        }
    }
}
