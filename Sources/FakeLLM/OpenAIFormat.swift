import VolleyJSON

/// OpenAI chat-completions bodies and headers, shaped as the real API sends them.
enum OpenAIFormat {
    static let systemFingerprint = "fp_fake11m0de"

    static func usage(prompt: Int, completion: Int, cached: Int = 0) -> JSONValue {
        .object([
            "prompt_tokens": JSONValue(prompt),
            "completion_tokens": JSONValue(completion),
            "total_tokens": JSONValue(prompt + completion),
            "prompt_tokens_details": .object(["cached_tokens": JSONValue(min(cached, prompt)), "audio_tokens": 0]),
            "completion_tokens_details": .object([
                "reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
            ]),
        ])
    }

    static func finishReason(_ reply: FakeReply) -> String {
        reply.toolCall != nil ? "tool_calls" : (reply.truncated ? "length" : "stop")
    }

    /// A non-streaming `chat.completion`.
    static func completion(
        id: String, callID: String, created: Int, model: String, reply: FakeReply, promptTokens: Int
    ) -> JSONValue {
        var message: JSONObject = ["role": .string("assistant")]
        if let call = reply.toolCall {
            message.updateValue(.null, forKey: "content")
            message.updateValue(.array([toolCall(call, id: callID)]), forKey: "tool_calls")
        } else {
            message.updateValue(.string(reply.text), forKey: "content")
        }
        message.updateValue(.null, forKey: "refusal")
        message.updateValue(.array([]), forKey: "annotations")
        return .object([
            "id": .string(id),
            "object": .string("chat.completion"),
            "created": JSONValue(created),
            "model": .string(model),
            "choices": .array([
                .object([
                    "index": 0,
                    "message": .object(message),
                    "logprobs": .null,
                    "finish_reason": .string(finishReason(reply)),
                ])
            ]),
            "usage": usage(prompt: promptTokens, completion: reply.outputTokens, cached: reply.cachedTokens),
            "service_tier": .string("default"),
            "system_fingerprint": .string(systemFingerprint),
        ])
    }

    static func toolCall(_ call: FakeToolCall, id: String) -> JSONValue {
        .object([
            "id": .string(id),
            "type": .string("function"),
            "function": .object(["name": .string(call.name), "arguments": .string(call.argumentsText)]),
        ])
    }

    /// The SSE events of a streamed completion, each `data: …\n\n`, ending with `data: [DONE]`.
    static func streamEvents(
        id: String, callID: String, created: Int, model: String, reply: FakeReply, promptTokens: Int,
        includeUsage: Bool
    ) -> [[UInt8]] {
        /// A chunk's members up to and including `choices`; every chunk starts with them.
        func chunkHead(choices: [JSONValue]) -> JSONObject {
            [
                "id": .string(id),
                "object": .string("chat.completion.chunk"),
                "created": JSONValue(created),
                "model": .string(model),
                "service_tier": .string("default"),
                "system_fingerprint": .string(systemFingerprint),
                "choices": .array(choices),
            ]
        }
        func chunk(_ delta: JSONValue, finishReason: JSONValue = .null) -> JSONValue {
            var members = chunkHead(choices: [
                .object(["index": 0, "delta": delta, "logprobs": .null, "finish_reason": finishReason])
            ])
            if includeUsage { members.updateValue(.null, forKey: "usage") }
            return .object(members)
        }
        var chunks: [JSONValue] = []
        if let call = reply.toolCall {
            let opening = JSONValue.object([
                "index": 0, "id": .string(callID), "type": .string("function"),
                "function": .object(["name": .string(call.name), "arguments": .string("")]),
            ])
            chunks.append(
                chunk(.object([
                    "role": .string("assistant"), "content": .null, "tool_calls": .array([opening]),
                    "refusal": .null,
                ])))
            let arguments = JSONValue.object([
                "index": 0, "function": .object(["arguments": .string(call.argumentsText)]),
            ])
            chunks.append(chunk(.object(["tool_calls": .array([arguments])])))
        } else {
            chunks.append(
                chunk(.object(["role": .string("assistant"), "content": .string(""), "refusal": .null])))
            for piece in reply.pieces {
                chunks.append(chunk(.object(["content": .string(piece)])))
            }
        }
        chunks.append(chunk(.object([:]), finishReason: .string(finishReason(reply))))
        if includeUsage {
            var last = chunkHead(choices: [])
            last.updateValue(usage(prompt: promptTokens, completion: reply.outputTokens, cached: reply.cachedTokens), forKey: "usage")
            chunks.append(.object(last))
        }
        var events = chunks.map { Array("data: \($0.jsonString)\n\n".utf8) }
        events.append(Array("data: [DONE]\n\n".utf8))
        return events
    }

    /// OpenAI's error shape: `{"error":{"message","type","param","code"}}`.
    static func errorBody(message: String, type: String, param: String? = nil, code: String? = nil) -> JSONValue {
        .object([
            "error": .object([
                "message": .string(message),
                "type": .string(type),
                "param": param.map(JSONValue.string) ?? .null,
                "code": code.map(JSONValue.string) ?? .null,
            ])
        ])
    }

    /// The body OpenAI sends for `failure` on a request for `model`. `statesWait` false leaves
    /// "Please try again in ..." out of a rate-limit message (a bare 429 tells nothing).
    static func error(_ failure: FakeFailure, model: String, statesWait: Bool = true) -> JSONValue {
        switch failure {
        case .invalidRequest(let message, let param):
            return errorBody(message: message, type: "invalid_request_error", param: param)
        case .quota:
            return errorBody(
                message: "You exceeded your current quota, please check your plan and billing details. For more "
                    + "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
                type: "insufficient_quota", code: "insufficient_quota")
        case .rateLimit(let kind, let limit, let used, let requested, let retryAfterSeconds):
            let unit = kind == .requests ? "requests per min (RPM)" : "tokens per min (TPM)"
            let wait = GoDuration.format(seconds: retryAfterSeconds ?? 1)
            let advice = statesWait ? " Please try again in \(wait)." : ""
            return errorBody(
                message: "Rate limit reached for \(model) in organization org-fake on \(unit): Limit \(limit), "
                    + "Used \(used), Requested \(requested).\(advice) Visit "
                    + "https://platform.openai.com/account/rate-limits to learn more.",
                type: kind.rawValue, code: "rate_limit_exceeded")
        case .concurrencyLimit(let limit, let hinted):
            guard hinted else { return errorBody(message: "Rate limit exceeded", type: "requests", code: "rate_limit_exceeded") }
            return errorBody(
                message: "Too many concurrent requests: at most \(limit) requests may be in flight", type: "requests",
                code: "concurrency_limit_exceeded")
        case .tooLarge(let limit, let requested):
            return errorBody(
                message: "Request too large for \(model) in organization org-fake on tokens per min (TPM): "
                    + "Limit \(limit), Requested \(requested). The input or output tokens must be reduced in order "
                    + "to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.",
                type: "tokens", code: "rate_limit_exceeded")
        case .status(let status):
            return statusError(status, model: model)
        }
    }

    private static func statusError(_ status: Int, model: String) -> JSONValue {
        switch status {
        case 400:
            return errorBody(message: "Bad request (scripted).", type: "invalid_request_error")
        case 401:
            return errorBody(
                message: "Incorrect API key provided: sk-fake***. You can find your API key at "
                    + "https://platform.openai.com/account/api-keys.",
                type: "invalid_request_error", code: "invalid_api_key")
        case 403:
            return errorBody(
                message: "Project does not have access to model `\(model)`.", type: "invalid_request_error",
                code: "model_not_found")
        case 404:
            return errorBody(
                message: "The model `\(model)` does not exist or you do not have access to it.",
                type: "invalid_request_error", code: "model_not_found")
        case 408:
            return errorBody(message: "Request timed out.", type: "server_error")
        case 409:
            return errorBody(message: "Conflict (scripted).", type: "invalid_request_error")
        case 429:
            return error(.rateLimit(kind: .requests, limit: 1, used: 1, requested: 1, retryAfterSeconds: nil), model: model)
        case 500:
            return errorBody(
                message: "The server had an error while processing your request. Sorry about that!", type: "server_error")
        case 502:
            return errorBody(message: "Bad gateway.", type: "server_error", code: "bad_gateway")
        case 503:
            return errorBody(
                message: "The server is overloaded or not ready yet.", type: "server_error", code: "service_unavailable")
        case 504:
            return errorBody(message: "Gateway timeout.", type: "server_error", code: "gateway_timeout")
        case 500...599:
            return errorBody(message: "Server error \(status) (scripted).", type: "server_error")
        default:
            return errorBody(message: "Request failed with status \(status) (scripted).", type: "invalid_request_error")
        }
    }

    /// `x-ratelimit-*` headers for the configured limits, as OpenAI sends them.
    static func rateLimitHeaders(_ snapshot: RateLimiter.Snapshot) -> [(String, String)] {
        var headers: [(String, String)] = []
        if let requests = snapshot.requests { headers.append(("x-ratelimit-limit-requests", String(requests.limit))) }
        if let tokens = snapshot.tokens { headers.append(("x-ratelimit-limit-tokens", String(tokens.limit))) }
        if let requests = snapshot.requests {
            headers.append(("x-ratelimit-remaining-requests", String(requests.remaining)))
        }
        if let tokens = snapshot.tokens { headers.append(("x-ratelimit-remaining-tokens", String(tokens.remaining))) }
        if let requests = snapshot.requests {
            headers.append(("x-ratelimit-reset-requests", GoDuration.format(seconds: requests.secondsUntilFull)))
        }
        if let tokens = snapshot.tokens {
            headers.append(("x-ratelimit-reset-tokens", GoDuration.format(seconds: tokens.secondsUntilFull)))
        }
        return headers
    }
}
