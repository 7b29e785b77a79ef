import VolleySystem
import VolleyHTTP

/// Anthropic Messages API (`POST {base_url}/v1/messages`, or `{base_url}/messages` when the
/// base URL already ends in `/v1`: see `ProviderConfig.endpointURL`). OpenAI-shaped item requests are
/// translated (see `AnthropicTranslation`); `"format": "native"` sends the body unchanged.
final class AnthropicClient: ProviderClient {
    static let apiVersion = "2023-06-01"

    let config: ProviderConfig
    let http: HTTPClient

    // A class, not a struct: an async method of a struct may copy `self` (the whole
    // provider configuration) into the frame every in-flight item keeps.
    init(config: ProviderConfig, http: HTTPClient) {
        self.config = config
        self.http = http
        url = config.endpointURL
        headers = config.requestHeaders(authorization: config.keyHeader,
                                        extraHeaders: ["anthropic-version": Self.apiVersion])
    }

    private let url: String
    private let headers: HTTPHeaders

    func attempt(_ item: Item, attempt: Int, timeoutSeconds: Double?) async -> Attempt {
        if case .raw = item.endpoint {
            return await config.sendEndpoint(item, headers: headers, http: http, timeoutSeconds: timeoutSeconds)
        }
        let request: HTTPRequest
        switch makeRequest(item, stream: false, timeoutSeconds: timeoutSeconds) {
        case .success(let value): request = value
        case .failure(let error): return Attempt(.failure(error))
        }
        let sent = await config.send(request, timeoutSeconds: timeoutSeconds, http: http)
        return Self.attempt(from: sent, includeRaw: item.includeRaw, apiKey: config.apiKey)
    }

    func streamAttempt(_ item: Item, attempt: Int, timeoutSeconds: Double?,
                       onDelta: @escaping @Sendable (StreamDelta) -> Void) async -> Attempt {
        let request: HTTPRequest
        switch makeRequest(item, stream: true, timeoutSeconds: timeoutSeconds) {
        case .success(let value): request = value
        case .failure(let error): return Attempt(.failure(error))
        }
        return await config.stream(request, sse: .anthropic, reader: StreamReader(includeRaw: item.includeRaw),
                                   timeoutSeconds: timeoutSeconds, http: http, onDelta: onDelta)
    }

    @inline(never)
    private func makeRequest(_ item: Item, stream: Bool, timeoutSeconds: Double?) -> Result<HTTPRequest, ItemError> {
        var body: JSONObject
        switch item.endpoint == .messages ? .native : item.format {
        case .native:
            body = item.request
        case .openai:
            switch AnthropicTranslation.request(fromOpenAI: item.request) {
            case .success(let translated): body = translated
            case .failure(let error): return .failure(error)
            }
        }
        if stream { body["stream"] = true } else { body.removeValue(forKey: "stream") }
        return .success(config.request(url: url, headers: headers, body: body, timeoutSeconds: timeoutSeconds))
    }

    /// Reads a Messages event stream (`message_start`, content blocks and their deltas,
    /// `message_delta`, `message_stop`): text and tool-input deltas for the host, and the whole
    /// answer at the end. Tool calls are numbered in the order their blocks start.
    struct StreamReader: ProviderStreamReader {
        let includeRaw: Bool
        var assembly = StreamAssembly()
        var model: String?
        var stopReason: String?
        var inputTokens: Int?
        var outputTokens: Int?
        /// `cache_read_input_tokens`, `cache_creation_input_tokens` (apart from `input_tokens`).
        var cacheRead = 0, cacheWritten = 0

        /// Takes what a `usage` object says (a later event's counts replace an earlier one's).
        mutating func count(_ usage: JSONValue?) {
            guard let usage else { return }
            if let input = usage["input_tokens"]?.intValue { inputTokens = input }
            if let output = usage["output_tokens"]?.intValue { outputTokens = output }
            if let read = usage["cache_read_input_tokens"]?.intValue { cacheRead = read }
            if let written = usage["cache_creation_input_tokens"]?.intValue { cacheWritten = written }
        }
        /// Content block index to tool call number.
        var toolIndex: [Int: Int] = [:]
        var events: [JSONValue] = []

        init(includeRaw: Bool) {
            self.includeRaw = includeRaw
        }

        mutating func read(_ event: SSEEvent) -> Result<StreamDelta?, ItemError> {
            let json: JSONValue
            switch Self.json(of: event) {
            case .success(let value): json = value
            case .failure(let error): return .failure(error)
            }
            if includeRaw { events.append(json) }
            let type = json["type"]?.stringValue ?? event.event
            switch type {
            case "message_start":
                let message = json["message"]
                model = message?["model"]?.stringValue ?? model
                count(message?["usage"])
            case "content_block_start":
                guard let block = json["content_block"], let index = json["index"]?.intValue else { return .success(nil) }
                if block["type"]?.stringValue == "tool_use" {
                    let number = toolIndex.count
                    toolIndex[index] = number
                    let delta = StreamDelta(toolCalls: [ToolCallDelta(index: number, id: block["id"]?.stringValue,
                                                                      name: block["name"]?.stringValue, arguments: "")])
                    assembly.add(delta)
                    return .success(delta)
                }
                if block["type"]?.stringValue == "text", let text = block["text"]?.stringValue, !text.isEmpty {
                    let delta = StreamDelta(text: text)
                    assembly.add(delta)
                    return .success(delta)
                }
            case "content_block_delta":
                let delta = json["delta"]
                var piece = StreamDelta()
                switch delta?["type"]?.stringValue {
                case "text_delta":
                    guard let text = delta?["text"]?.stringValue, !text.isEmpty else { return .success(nil) }
                    piece.text = text
                case "input_json_delta":
                    guard let index = json["index"]?.intValue, let number = toolIndex[index],
                          let fragment = delta?["partial_json"]?.stringValue, !fragment.isEmpty else { return .success(nil) }
                    piece.toolCalls = [ToolCallDelta(index: number, arguments: fragment)]
                default:
                    return .success(nil)  // Thinking, signatures, citations: not part of the answer's text.
                }
                assembly.add(piece)
                return .success(piece)
            case "message_delta":
                if let reason = json["delta"]?["stop_reason"]?.stringValue { stopReason = reason }
                count(json["usage"])
            case "error":
                let error = json["error"]
                let kind = error?["type"]?.stringValue
                let message = error?["message"]?.stringValue ?? "the stream reported an error"
                let overloaded = kind == "overloaded_error"
                return .failure(ItemError(overloaded ? .overloaded : .providerError, "the stream reported an error: \(message)",
                                          status: 200, retryable: true, providerCode: kind))
            default:
                break  // ping, message_stop, content_block_stop, and events added later.
            }
            return .success(nil)
        }

        func attempt(_ streamed: ProviderConfig.Streamed, apiKey: String?) -> Attempt {
            let rateLimits = streamed.rateLimits
            if let refused = streamed.refusal(apiKey: apiKey) { return refused }
            if let failure = streamed.failure { return Attempt(.failure(failure), rateLimits: rateLimits) }
            var calls = assembly.toolCalls
            // A tool call with no input fragments has input {} (as a whole reply would say).
            if case .array(let list)? = calls {
                calls = .array(list.map { call in
                    guard call["function"]?["arguments"]?.stringValue == "", case .object(var object) = call,
                          case .object(var function)? = object["function"] else { return call }
                    function["arguments"] = "{}"
                    object["function"] = .object(function)
                    return .object(object)
                })
            }
            return Attempt(.success(ItemValue(
                text: assembly.sawText ? assembly.text : nil,
                finishReason: AnthropicTranslation.finishReason(stopReason),
                model: model,
                usage: inputTokens.map { Usage(inputTokens: $0 + cacheRead + cacheWritten, outputTokens: outputTokens ?? 0, cachedInputTokens: cacheRead) },
                toolCalls: calls,
                raw: includeRaw ? .array(events) : nil
            )), rateLimits: rateLimits)
        }
    }

    /// The members of a Messages reply that `AnthropicTranslation.value(fromResponse:)` reads.
    static let replyFields: JSONSelection = .members([
        "content": .all,
        "model": .all,
        "stop_reason": .all,
        "usage": .members(["input_tokens": .all, "output_tokens": .all, "cache_read_input_tokens": .all, "cache_creation_input_tokens": .all]),
    ])

    @inline(never)
    private static func attempt(from sent: Result<HTTPResponse, ItemError>, includeRaw: Bool, apiKey: String?) -> Attempt {
        let response: HTTPResponse
        switch sent {
        case .success(let value): response = value
        case .failure(let error): return Attempt(.failure(error))
        }
        return Attempt(decode(response, includeRaw: includeRaw, apiKey: apiKey), rateLimits: response.rateLimits)
    }

    /// A whole (not streamed) reply as the item's value or error.
    static func decode(_ response: HTTPResponse, includeRaw: Bool, apiKey: String?) -> Result<ItemValue, ItemError> {
        guard (200..<300).contains(response.status) else {
            return .failure(ProviderErrors.http(
                status: response.status, headers: response.headers, body: response.body,
                apiKey: apiKey, nowUnixSeconds: unixTimeSeconds()))
        }
        let json: JSONValue
        do {
            // Only what an outcome carries is built, unless the item wants the whole body.
            json = includeRaw ? try JSONParser.parse(response.body)
                : try JSONParser.parse(response.body, selecting: replyFields)
        } catch {
            return .failure(ProviderErrors.malformed(error.message, status: response.status))
        }
        return AnthropicTranslation.value(fromResponse: json, includeRaw: includeRaw, status: response.status)
    }
}

/// OpenAI chat-completions shapes to and from Anthropic Messages shapes. Pure.
enum AnthropicTranslation {
    /// `max_tokens` when the OpenAI body gives none (Anthropic requires one).
    static let defaultMaxTokens = 1024

    /// OpenAI-only fields Anthropic would reject; dropped. Other unknown fields pass through.
    static let openAIOnly: Set<String> = [
        "n", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "logit_bias",
        "response_format", "seed", "user", "stream", "stream_options", "parallel_tool_calls",
        "max_completion_tokens", "modalities", "store", "service_tier", "reasoning_effort",
    ]

    static func request(fromOpenAI body: JSONObject) -> Result<JSONObject, ItemError> {
        guard let messages = body["messages"]?.arrayValue else {
            return .failure(ItemError(.invalidRequest, "`request.messages` must be an array"))
        }
        var out: JSONObject = [:]
        var system: [String] = []
        var converted: [JSONValue] = []
        for message in messages {
            guard let role = message["role"]?.stringValue else {
                return .failure(ItemError(.invalidRequest, "every message needs a string `role`"))
            }
            switch role {
            case "system", "developer":
                if let text = OpenAIClient.text(of: message["content"]) { system.append(text) }
            case "user", "assistant":
                var blocks = contentBlocks(message["content"])
                if role == "assistant", let calls = message["tool_calls"]?.arrayValue {
                    for call in calls {
                        let arguments = call["function"]?["arguments"]?.stringValue ?? "{}"
                        let input = (try? JSONParser.parse(Array(arguments.utf8))) ?? .object([:])
                        blocks.append(.object([
                            "type": "tool_use",
                            "id": call["id"] ?? .string(""),
                            "name": call["function"]?["name"] ?? .string(""),
                            "input": input,
                        ]))
                    }
                }
                converted.append(.object(["role": .string(role), "content": .array(blocks)]))
            case "tool":
                let block: JSONValue = .object([
                    "type": "tool_result",
                    "tool_use_id": message["tool_call_id"] ?? .string(""),
                    "content": .string(OpenAIClient.text(of: message["content"]) ?? ""),
                ])
                converted.append(.object(["role": "user", "content": .array([block])]))
            default:
                return .failure(ItemError(.invalidRequest, "unsupported message role \"\(role)\""))
            }
        }
        for (key, value) in body where !openAIOnly.contains(key) {
            switch key {
            case "messages", "max_tokens", "stop", "tools", "tool_choice": continue
            default: out[key] = value
            }
        }
        out["messages"] = .array(converted)
        if !system.isEmpty { out["system"] = .string(system.joined(separator: "\n\n")) }
        let maxTokens = body["max_tokens"]?.intValue ?? body["max_completion_tokens"]?.intValue ?? defaultMaxTokens
        out["max_tokens"] = .number(JSONNumber(maxTokens))
        if let stop = body["stop"], !stop.isNull {
            out["stop_sequences"] = stop.stringValue.map { .array([.string($0)]) } ?? stop
        }
        if let tools = body["tools"]?.arrayValue {
            out["tools"] = .array(tools.map { tool in
                let function = tool["function"] ?? tool
                var converted: JSONObject = ["name": function["name"] ?? .string("")]
                if let description = function["description"] { converted["description"] = description }
                converted["input_schema"] = function["parameters"] ?? .object(["type": "object"])
                return .object(converted)
            })
        }
        if let choice = body["tool_choice"], !choice.isNull {
            switch choice.stringValue {
            case "auto": out["tool_choice"] = ["type": "auto"]
            case "required": out["tool_choice"] = ["type": "any"]
            case "none": out["tool_choice"] = ["type": "none"]
            default:
                if let name = choice["function"]?["name"] {
                    out["tool_choice"] = .object(["type": "tool", "name": name])
                }
            }
        }
        return .success(out)
    }

    private static func contentBlocks(_ content: JSONValue?) -> [JSONValue] {
        if let text = content?.stringValue { return [.object(["type": "text", "text": .string(text)])] }
        guard let parts = content?.arrayValue else { return [] }
        return parts.compactMap { part in
            switch part["type"]?.stringValue {
            case "text":
                return .object(["type": "text", "text": part["text"] ?? .string("")])
            case "image_url":
                guard let url = part["image_url"]?["url"]?.stringValue else { return nil }
                if url.hasPrefix("data:"), let comma = url.firstIndex(of: ","), let semi = url.firstIndex(of: ";") {
                    let mediaType = String(url[url.index(url.startIndex, offsetBy: 5)..<semi])
                    return .object(["type": "image", "source": .object([
                        "type": "base64", "media_type": .string(mediaType), "data": .string(String(url[url.index(after: comma)...])),
                    ])])
                }
                return .object(["type": "image", "source": .object(["type": "url", "url": .string(url)])])
            default:
                return part  // Already an Anthropic block, or unknown: pass through.
            }
        }
    }

    static func value(fromResponse json: JSONValue, includeRaw: Bool, status: Int) -> Result<ItemValue, ItemError> {
        guard let blocks = json["content"]?.arrayValue else {
            return .failure(ProviderErrors.malformed("no content array", status: status))
        }
        var texts: [String] = []
        var toolCalls: [JSONValue] = []
        for block in blocks {
            switch block["type"]?.stringValue {
            case "text":
                if let text = block["text"]?.stringValue { texts.append(text) }
            case "tool_use":
                toolCalls.append(.object([
                    "id": block["id"] ?? .string(""),
                    "type": "function",
                    "function": .object([
                        "name": block["name"] ?? .string(""),
                        "arguments": .string((block["input"] ?? .object([:])).jsonString),
                    ]),
                ]))
            default:
                continue
            }
        }
        let usage = Usage(reported: json["usage"])
        return .success(ItemValue(
            text: texts.isEmpty ? nil : texts.joined(),
            finishReason: finishReason(json["stop_reason"]?.stringValue),
            model: json["model"]?.stringValue,
            usage: usage,
            toolCalls: toolCalls.isEmpty ? Optional.none : .some(.array(toolCalls)),
            raw: includeRaw ? Optional(json) : Optional.none
        ))
    }

    /// Anthropic stop reasons in OpenAI's vocabulary.
    static func finishReason(_ stopReason: String?) -> String? {
        switch stopReason {
        case "end_turn", "stop_sequence": return "stop"
        case "max_tokens": return "length"
        case "tool_use": return "tool_calls"
        case "refusal": return "content_filter"
        default: return stopReason
        }
    }
}
