import VolleySystem
import VolleyHTTP

/// OpenAI chat completions (`POST {base_url}/chat/completions`), or any compatible server.
final class OpenAIClient: ProviderClient {
    let config: ProviderConfig
    let http: HTTPClient

    // A class, not a struct: an async method of a struct may copy `self` (the whole
    // provider configuration) into the frame every in-flight item keeps.
    init(config: ProviderConfig, http: HTTPClient) {
        self.config = config
        self.http = http
        url = config.endpointURL
        headers = config.requestHeaders(authorization: config.keyHeader)
    }

    private let url: String
    private let headers: HTTPHeaders

    func attempt(_ item: Item, attempt: Int, timeoutSeconds: Double?) async -> Attempt {
        guard item.endpoint == .chat else { return await config.sendEndpoint(item, headers: headers, http: http, timeoutSeconds: timeoutSeconds) }
        let request = makeRequest(item, stream: false, timeoutSeconds: timeoutSeconds)
        let sent = await config.send(request, timeoutSeconds: timeoutSeconds, http: http)
        return Self.attempt(from: sent, includeRaw: item.includeRaw, apiKey: config.apiKey)
    }

    func streamAttempt(_ item: Item, attempt: Int, timeoutSeconds: Double?,
                       onDelta: @escaping @Sendable (StreamDelta) -> Void) async -> Attempt {
        let request = makeRequest(item, stream: true, timeoutSeconds: timeoutSeconds)
        return await config.stream(request, sse: .openAI, reader: StreamReader(includeRaw: item.includeRaw),
                                   timeoutSeconds: timeoutSeconds, http: http, onDelta: onDelta)
    }

    @inline(never)
    private func makeRequest(_ item: Item, stream: Bool, timeoutSeconds: Double?) -> HTTPRequest {
        var body = item.request
        if stream {
            // Usage comes in a last chunk only when asked for.
            var options = body["stream_options"]?.objectValue ?? [:]
            options["include_usage"] = true
            body["stream"] = true
            body["stream_options"] = .object(options)
        } else {
            body.removeValue(forKey: "stream")
            body.removeValue(forKey: "stream_options")
        }
        return config.request(url: url, headers: headers, body: body, timeoutSeconds: timeoutSeconds)
    }

    /// Reads a chat-completions event stream (`chat.completion.chunk` objects, then
    /// `[DONE]`): each chunk's delta for the host, and the whole answer at the end.
    struct StreamReader: ProviderStreamReader {
        let includeRaw: Bool
        var assembly = StreamAssembly()
        var model: String?
        var finishReason: String?
        var usage: Usage?
        var done = false
        var chunks: [JSONValue] = []

        init(includeRaw: Bool) {
            self.includeRaw = includeRaw
        }

        /// The delta of one event (nil when it carries none); an event that is not a chunk
        /// is an error (the stream stops).
        mutating func read(_ event: SSEEvent) -> Result<StreamDelta?, ItemError> {
            if event.data == "[DONE]" {
                done = true
                return .success(nil)
            }
            let json: JSONValue
            switch Self.json(of: event) {
            case .success(let value): json = value
            case .failure(let error): return .failure(error)
            }
            if let error = json["error"], !error.isNull {
                let message = error["message"]?.stringValue ?? "the stream reported an error"
                return .failure(ItemError(.providerError, "the stream reported an error: \(message)", status: 200, retryable: true,
                                          providerCode: error["code"]?.stringValue ?? error["type"]?.stringValue))
            }
            if includeRaw { chunks.append(json) }
            if let name = json["model"]?.stringValue { model = name }
            if let counts = Usage(reported: json["usage"]) { usage = counts }
            guard let choice = json["choices"]?[0] else { return .success(nil) }
            if let reason = choice["finish_reason"]?.stringValue { finishReason = reason }
            var delta = StreamDelta()
            if let text = choice["delta"]?["content"]?.stringValue, !text.isEmpty { delta.text = text }
            for call in choice["delta"]?["tool_calls"]?.arrayValue ?? [] {
                guard let index = call["index"]?.intValue else { continue }
                delta.toolCalls.append(ToolCallDelta(index: index, id: call["id"]?.stringValue,
                                                     name: call["function"]?["name"]?.stringValue,
                                                     arguments: call["function"]?["arguments"]?.stringValue))
            }
            guard !delta.isEmpty else { return .success(nil) }
            assembly.add(delta)
            return .success(delta)
        }

        /// The attempt's end: the whole answer, or why there is none.
        func attempt(_ streamed: ProviderConfig.Streamed, apiKey: String?) -> Attempt {
            let rateLimits = streamed.rateLimits
            if let refused = streamed.refusal(apiKey: apiKey) { return refused }
            // A server that ends after the finish reason without `[DONE]` still answered whole.
            if let failure = streamed.failure, !(failure.kind == .providerError && failure.retryable && finishReason != nil && !done) {
                return Attempt(.failure(failure), rateLimits: rateLimits)
            }
            return Attempt(.success(ItemValue(
                text: assembly.sawText ? assembly.text : nil,
                finishReason: finishReason,
                model: model,
                usage: usage,
                toolCalls: assembly.toolCalls,
                raw: includeRaw ? .array(chunks) : nil
            )), rateLimits: rateLimits)
        }
    }

    @inline(never)
    private static func attempt(from sent: Result<HTTPResponse, ItemError>, includeRaw: Bool, apiKey: String?) -> Attempt {
        switch sent {
        case .success(let response):
            return Attempt(decode(response, includeRaw: includeRaw, apiKey: apiKey), rateLimits: response.rateLimits)
        case .failure(let error):
            return Attempt(.failure(error))
        }
    }

    static func decode(_ response: HTTPResponse, includeRaw: Bool, apiKey: String?) -> Result<ItemValue, ItemError> {
        guard (200..<300).contains(response.status) else {
            return .failure(ProviderErrors.http(
                status: response.status, headers: response.headers, body: response.body,
                apiKey: apiKey, nowUnixSeconds: unixTimeSeconds()))
        }
        let reply: Reply
        do {
            reply = includeRaw ? try Reply(parsing: response.body) : try Reply(reading: response.body)
        } catch {
            return .failure(ProviderErrors.malformed(error.message, status: response.status))
        }
        guard reply.hasMessage else {
            if reply.hasError {
                return .failure(ProviderErrors.http(
                    status: response.status, headers: response.headers, body: response.body,
                    apiKey: apiKey, nowUnixSeconds: unixTimeSeconds()))
            }
            return .failure(ProviderErrors.malformed("no choices[0].message", status: response.status))
        }
        var usage: Usage?
        if let input = reply.promptTokens {
            usage = Usage(inputTokens: input, outputTokens: reply.completionTokens ?? 0, cachedInputTokens: reply.cachedTokens ?? 0)
        }
        // Spelled out: `JSONValue` is nil-literal-convertible, so `nil` in a ternary would become `.null`.
        var toolCalls: JSONValue?
        if let calls = reply.toolCalls, !calls.isNull { toolCalls = calls }
        return .success(ItemValue(
            text: text(of: reply.content),
            finishReason: reply.finishReason,
            model: reply.model,
            usage: usage,
            toolCalls: toolCalls,
            raw: reply.raw
        ))
    }

    /// The fields of a chat completion that an outcome carries.
    struct Reply {
        var model: String?
        var hasMessage = false
        var content: JSONValue?
        var toolCalls: JSONValue?
        var finishReason: String?
        var promptTokens: Int?
        var completionTokens: Int?
        /// `usage.prompt_tokens_details.cached_tokens`.
        var cachedTokens: Int?
        /// The body has an `error` member (some servers answer 200 with one).
        var hasError = false
        var raw: JSONValue?

        init() {}

        /// Walks the body and keeps only these fields: nothing else is built (the same
        /// checks as a full parse; the same results as `init(parsing:)`).
        init(reading body: [UInt8]) throws(JSONParseError) {
            let result = body.withUnsafeBytes { bytes in
                Result { () throws(JSONParseError) -> Reply in
                    guard let base = bytes.baseAddress, !bytes.isEmpty else {
                        throw JSONParseError(kind: .unexpectedEndOfInput, offset: 0)
                    }
                    var reply = Reply()
                    var reader = JSONReader(base: base, count: bytes.count)
                    try reader.readObject { reader, key throws(JSONParseError) in
                        if key == "choices" {
                            // A repeated `choices` replaces the first, as in a parsed tree
                            // (the last of a repeated key wins).
                            reply.hasMessage = false
                            reply.content = nil
                            reply.toolCalls = nil
                            reply.finishReason = nil
                            try reader.readArray { reader, index throws(JSONParseError) in
                                guard index == 0 else { return try reader.skip() }
                                try reader.readObject { reader, key throws(JSONParseError) in
                                    if key == "message" {
                                        reply.content = nil
                                        reply.toolCalls = nil
                                        reply.hasMessage = try reader.readObject { reader, key throws(JSONParseError) in
                                            if key == "content" {
                                                reply.content = try reader.readValue()
                                            } else if key == "tool_calls" {
                                                reply.toolCalls = try reader.readValue()
                                            } else {
                                                try reader.skip()
                                            }
                                        }
                                    } else if key == "finish_reason" {
                                        reply.finishReason = try reader.readString()
                                    } else {
                                        try reader.skip()
                                    }
                                }
                            }
                        } else if key == "model" {
                            reply.model = try reader.readString()
                        } else if key == "usage" {
                            reply.promptTokens = nil
                            reply.completionTokens = nil
                            reply.cachedTokens = nil
                            try reader.readObject { reader, key throws(JSONParseError) in
                                if key == "prompt_tokens" {
                                    reply.promptTokens = try reader.readInt()
                                } else if key == "completion_tokens" {
                                    reply.completionTokens = try reader.readInt()
                                } else if key == "prompt_tokens_details" {
                                    try reader.readObject { reader, key throws(JSONParseError) in
                                        if key == "cached_tokens" { reply.cachedTokens = try reader.readInt() } else { try reader.skip() }
                                    }
                                } else {
                                    try reader.skip()
                                }
                            }
                        } else if key == "error" {
                            reply.hasError = true
                            try reader.skip()
                        } else {
                            try reader.skip()
                        }
                    }
                    try reader.finish()
                    return reply
                }
            }
            self = try result.get()
        }

        /// Parses the whole body (kept as `raw`) and takes the fields from the tree.
        init(parsing body: [UInt8]) throws(JSONParseError) {
            let json = try JSONParser.parse(body)
            raw = json
            model = json["model"]?.stringValue
            hasError = json["error"] != nil
            if let choice = json["choices"]?[0], case .object(let message)? = choice["message"] {
                hasMessage = true
                content = message["content"]
                toolCalls = message["tool_calls"]
                finishReason = choice["finish_reason"]?.stringValue
            }
            if let usage = json["usage"] {
                promptTokens = usage["prompt_tokens"]?.intValue
                completionTokens = usage["completion_tokens"]?.intValue
                cachedTokens = usage["prompt_tokens_details"]?["cached_tokens"]?.intValue
            }
        }
    }

    /// `content` is a string, null, or (for some compatible servers) an array of parts.
    static func text(of content: JSONValue?) -> String? {
        guard let content else { return nil }
        if let text = content.stringValue { return text }
        if let parts = content.arrayValue {
            let texts = parts.compactMap { $0["text"]?.stringValue }
            return texts.isEmpty ? nil : texts.joined()
        }
        return nil
    }
}
