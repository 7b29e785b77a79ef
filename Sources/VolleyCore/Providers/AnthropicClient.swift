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
        headers = config.requestHeaders(authorization: config.apiKey.map { ("x-api-key", $0) },
                                        extraHeaders: ["anthropic-version": Self.apiVersion])
    }

    private let url: String
    private let headers: HTTPHeaders

    func attempt(_ item: Item, attempt: Int, timeoutSeconds: Double?) async -> Attempt {
        let request: HTTPRequest
        switch makeRequest(item, timeoutSeconds: timeoutSeconds) {
        case .success(let value): request = value
        case .failure(let error): return Attempt(.failure(error))
        }
        let sent = await config.send(request, timeoutSeconds: timeoutSeconds, http: http)
        return Self.attempt(from: sent, includeRaw: item.includeRaw, apiKey: config.apiKey)
    }

    @inline(never)
    private func makeRequest(_ item: Item, timeoutSeconds: Double?) -> Result<HTTPRequest, ItemError> {
        let body: JSONObject
        switch item.format {
        case .native:
            body = item.request
        case .openai:
            switch AnthropicTranslation.request(fromOpenAI: item.request) {
            case .success(let translated): body = translated
            case .failure(let error): return .failure(error)
            }
        }
        return .success(config.request(url: url, headers: headers, body: body, timeoutSeconds: timeoutSeconds))
    }

    /// The members of a Messages reply that `AnthropicTranslation.value(fromResponse:)` reads.
    static let replyFields: JSONSelection = .members([
        "content": .all,
        "model": .all,
        "stop_reason": .all,
        "usage": .members(["input_tokens": .all, "output_tokens": .all]),
    ])

    @inline(never)
    private static func attempt(from sent: Result<HTTPResponse, ItemError>, includeRaw: Bool, apiKey: String?) -> Attempt {
        let response: HTTPResponse
        switch sent {
        case .success(let value): response = value
        case .failure(let error): return Attempt(.failure(error))
        }
        let rateLimits = response.rateLimits
        guard (200..<300).contains(response.status) else {
            return Attempt(.failure(ProviderErrors.http(
                status: response.status, headers: response.headers, body: response.body,
                apiKey: apiKey, nowUnixSeconds: unixTimeSeconds())), rateLimits: rateLimits)
        }
        let json: JSONValue
        do {
            // Only what an outcome carries is built, unless the item wants the whole body.
            json = includeRaw ? try JSONParser.parse(response.body)
                : try JSONParser.parse(response.body, selecting: replyFields)
        } catch {
            return Attempt(.failure(ProviderErrors.malformed(error.message, status: response.status)), rateLimits: rateLimits)
        }
        return Attempt(AnthropicTranslation.value(fromResponse: json, includeRaw: includeRaw, status: response.status),
                       rateLimits: rateLimits)
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
        var usage: Usage?
        if let u = json["usage"], let input = u["input_tokens"]?.intValue {
            usage = Usage(inputTokens: input, outputTokens: u["output_tokens"]?.intValue ?? 0)
        }
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
