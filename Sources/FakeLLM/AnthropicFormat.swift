import VolleyJSON

/// Anthropic Messages API bodies, SSE events and headers, shaped as the real API sends them.
enum AnthropicFormat {
    static func stopReason(_ reply: FakeReply) -> String {
        reply.toolCall != nil ? "tool_use" : (reply.truncated ? "max_tokens" : "end_turn")
    }

    /// Anthropic counts cache reads apart: `input_tokens` is the rest of the prompt.
    static func usage(input: Int, output: Int, cached: Int = 0) -> JSONValue {
        .object([
            "input_tokens": JSONValue(input - min(cached, input)),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": JSONValue(min(cached, input)),
            "output_tokens": JSONValue(output),
        ])
    }

    static func contentBlock(_ reply: FakeReply, toolID: String) -> JSONValue {
        if let call = reply.toolCall {
            return .object([
                "type": .string("tool_use"), "id": .string(toolID), "name": .string(call.name),
                "input": call.arguments,
            ])
        }
        return .object(["type": .string("text"), "text": .string(reply.text)])
    }

    /// A non-streaming `message`.
    static func message(id: String, toolID: String, model: String, reply: FakeReply, inputTokens: Int) -> JSONValue {
        .object([
            "id": .string(id),
            "type": .string("message"),
            "role": .string("assistant"),
            "model": .string(model),
            "content": .array([contentBlock(reply, toolID: toolID)]),
            "stop_reason": .string(stopReason(reply)),
            "stop_sequence": .null,
            "usage": usage(input: inputTokens, output: reply.outputTokens, cached: reply.cachedTokens),
        ])
    }

    /// The SSE events of a streamed message, `event: …\ndata: …\n\n`, ending with `message_stop`.
    static func streamEvents(id: String, toolID: String, model: String, reply: FakeReply, inputTokens: Int) -> [[UInt8]] {
        var events: [(String, JSONValue)] = []
        let start = JSONValue.object([
            "id": .string(id), "type": .string("message"), "role": .string("assistant"),
            "model": .string(model), "content": .array([]), "stop_reason": .null, "stop_sequence": .null,
            "usage": usage(input: inputTokens, output: 1, cached: reply.cachedTokens),
        ])
        events.append(("message_start", .object(["type": .string("message_start"), "message": start])))
        let openingBlock: JSONValue
        if let call = reply.toolCall {
            openingBlock = .object([
                "type": .string("tool_use"), "id": .string(toolID), "name": .string(call.name),
                "input": .object([:]),
            ])
        } else {
            openingBlock = .object(["type": .string("text"), "text": .string("")])
        }
        events.append(
            (
                "content_block_start",
                .object(["type": .string("content_block_start"), "index": 0, "content_block": openingBlock])
            ))
        events.append(("ping", .object(["type": .string("ping")])))
        func delta(_ body: JSONValue) -> (String, JSONValue) {
            ("content_block_delta", .object(["type": .string("content_block_delta"), "index": 0, "delta": body]))
        }
        if let call = reply.toolCall {
            events.append(
                delta(.object(["type": .string("input_json_delta"), "partial_json": .string(call.argumentsText)])))
        } else {
            for piece in reply.pieces {
                events.append(delta(.object(["type": .string("text_delta"), "text": .string(piece)])))
            }
        }
        events.append(("content_block_stop", .object(["type": .string("content_block_stop"), "index": 0])))
        events.append(
            (
                "message_delta",
                .object([
                    "type": .string("message_delta"),
                    "delta": .object(["stop_reason": .string(stopReason(reply)), "stop_sequence": .null]),
                    "usage": .object(["output_tokens": JSONValue(reply.outputTokens)]),
                ])
            ))
        events.append(("message_stop", .object(["type": .string("message_stop")])))
        return events.map { Array("event: \($0.0)\ndata: \($0.1.jsonString)\n\n".utf8) }
    }

    /// Anthropic's error shape: `{"type":"error","error":{"type","message"}}`.
    static func errorBody(type: String, message: String) -> JSONValue {
        .object([
            "type": .string("error"),
            "error": .object(["type": .string(type), "message": .string(message)]),
        ])
    }

    /// The status and body Anthropic sends for `failure`.
    static func error(_ failure: FakeFailure) -> (status: Int, body: JSONValue) {
        switch failure {
        case .invalidRequest(let message, _):
            return (400, errorBody(type: "invalid_request_error", message: message))
        case .quota:
            return (
                400,
                errorBody(
                    type: "invalid_request_error",
                    message: "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing "
                        + "to upgrade or purchase credits.")
            )
        case .rateLimit(let kind, let limit, _, _, _):
            let unit = kind == .requests ? "requests" : "input tokens"
            return (
                429,
                errorBody(
                    type: "rate_limit_error",
                    message: "This request would exceed the rate limit for your organization (org-fake) of \(limit) "
                        + "\(unit) per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You "
                        + "can see the response headers for current usage. Please reduce the prompt length or the "
                        + "maximum tokens requested, or try again later.")
            )
        case .tooLarge(let limit, let requested):
            return (
                429,
                errorBody(
                    type: "rate_limit_error",
                    message: "This request would exceed the rate limit for your organization (org-fake) of \(limit) "
                        + "input tokens per minute: it asks for \(requested). Please reduce the prompt length or the "
                        + "maximum tokens requested.")
            )
        case .concurrencyLimit(let limit, let hinted):
            let message =
                hinted ? "Too many concurrent requests: at most \(limit) requests may be in flight" : "Rate limit exceeded"
            return (429, errorBody(type: "rate_limit_error", message: message))
        case .status(let status):
            return (status, errorBody(type: errorType(status), message: statusMessage(status)))
        }
    }

    /// Anthropic's error `type` for an HTTP status.
    static func errorType(_ status: Int) -> String {
        switch status {
        case 400: return "invalid_request_error"
        case 401: return "authentication_error"
        case 402: return "billing_error"
        case 403: return "permission_error"
        case 404: return "not_found_error"
        case 408, 504: return "timeout_error"
        case 413: return "request_too_large"
        case 429: return "rate_limit_error"
        case 529: return "overloaded_error"
        case 500...599: return "api_error"
        default: return "invalid_request_error"
        }
    }

    private static func statusMessage(_ status: Int) -> String {
        switch status {
        case 401: return "invalid x-api-key"
        case 404: return "Not found"
        case 429: return "Number of request tokens has exceeded your per-minute rate limit"
        case 500: return "Internal server error"
        case 529: return "Overloaded"
        default: return "Request failed with status \(status) (scripted)."
        }
    }

    /// `anthropic-ratelimit-*` headers for the configured limits; resets are RFC 3339 times.
    static func rateLimitHeaders(_ snapshot: RateLimiter.Snapshot, unixTime: Double) -> [(String, String)] {
        var headers: [(String, String)] = []
        if let requests = snapshot.requests {
            headers.append(("anthropic-ratelimit-requests-limit", String(requests.limit)))
            headers.append(("anthropic-ratelimit-requests-remaining", String(requests.remaining)))
            headers.append(
                ("anthropic-ratelimit-requests-reset", RFC3339.format(unixTime: unixTime + requests.secondsUntilFull)))
        }
        if let tokens = snapshot.tokens {
            headers.append(("anthropic-ratelimit-tokens-limit", String(tokens.limit)))
            headers.append(("anthropic-ratelimit-tokens-remaining", String(tokens.remaining)))
            headers.append(
                ("anthropic-ratelimit-tokens-reset", RFC3339.format(unixTime: unixTime + tokens.secondsUntilFull)))
        }
        return headers
    }
}
