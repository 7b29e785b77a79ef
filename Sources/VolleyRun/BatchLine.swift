import VolleyCore
import VolleySystem

/// The OpenAI Batch API's output line for an outcome: `{"id", "custom_id", "response":
/// {"status_code", "request_id", "body"}, "error"}`, so tools that read Batch results read
/// Volley's.
///
/// - A success's `body` is the provider's whole reply when the line ran as a raw call of its
///   URL (an OpenAI provider); for other providers (the mock, Anthropic) it is built from the
///   outcome in the shape OpenAI's endpoint answers (`chat.completion`, an embeddings `list`,
///   a `response`, a `text_completion`).
/// - A failure the provider answered (an HTTP status) has `response` with that status and an
///   OpenAI error body, and `error` null, as the Batch API writes it; one without a status
///   (timeout, connection, a malformed line) has `response` null and `error` `{code,
///   message}`: `code` is the error kind (`unrouted` and `duplicate_key` for the lines resume
///   ignores).
package enum BatchLine {
    static let unroutedCode = "unrouted"
    static let duplicateCode = "duplicate_key"

    static func bytes(_ outcome: Outcome, url: String?, model: String?, duplicate: Bool = false, unrouted: Bool = false) -> [UInt8] {
        var object: JSONObject = [
            "id": .string("batch_req_" + randomHex(32)),
            "custom_id": .string(outcome.key ?? LineDecoder.lineKey(outcome.index)),
        ]
        switch outcome.result {
        case .success(let value):
            object["response"] = response(status: value.json["status"]?.intValue ?? 200, body: body(value, url: url, model: model))
            object["error"] = .null
        case .failure(let error):
            if let status = error.status, !duplicate, !unrouted {
                var details: JSONObject = ["message": .string(error.message), "type": .string(error.kind.rawValue), "param": .null]
                details["code"] = error.providerCode.map(JSONValue.string) ?? .string(error.kind.rawValue)
                object["response"] = response(status: status, body: ["error": .object(details)])
                object["error"] = .null
            } else {
                let code = duplicate ? duplicateCode : unrouted ? unroutedCode : error.kind.rawValue
                object["response"] = .null
                object["error"] = ["code": .string(code), "message": .string(error.message)]
            }
        }
        var bytes = JSONValue.object(object).jsonBytes
        bytes.append(0x0A)
        return bytes
    }

    private static func response(status: Int, body: JSONValue) -> JSONValue {
        ["status_code": .number(JSONNumber(status)), "request_id": .string("req_" + randomHex(32)), "body": body]
    }

    /// The reply's body: the provider's own (a raw call's `body`), or one built in the shape of
    /// the endpoint at `url`.
    static func body(_ value: ItemValue, url: String?, model: String?) -> JSONValue {
        let json = value.json
        if let body = json["body"], json["status"] != nil { return body }
        let created = JSONValue.number(JSONNumber(Int(unixTimeSeconds())))
        let modelName = JSONValue.string(value.model ?? model ?? "unknown")
        let input = value.usage?.inputTokens ?? 0, output = value.usage?.outputTokens ?? 0
        switch url.flatMap(LineDecoder.batchEndpoint)?.endpoint ?? .chat {
        case .embeddings:
            let data = (json["embeddings"]?.arrayValue ?? []).enumerated().map { index, vector -> JSONValue in
                ["object": "embedding", "index": .number(JSONNumber(index)), "embedding": vector]
            }
            return ["object": "list", "data": .array(data), "model": modelName,
                    "usage": ["prompt_tokens": .number(JSONNumber(input)), "total_tokens": .number(JSONNumber(input))]]
        case .responses:
            var content: [JSONValue] = []
            if let text = value.text {
                content.append(["type": "message", "id": .string("msg_" + randomHex(24)), "status": "completed", "role": "assistant",
                                "content": [["type": "output_text", "text": .string(text), "annotations": []]]])
            }
            for call in value.toolCalls?.arrayValue ?? [] {
                content.append(["type": "function_call", "id": .string("fc_" + randomHex(24)), "call_id": call["id"] ?? .null,
                                "name": call["function"]?["name"] ?? .null, "arguments": call["function"]?["arguments"] ?? "{}",
                                "status": "completed"])
            }
            return ["id": json["id"] ?? .string("resp_" + randomHex(24)), "object": "response", "created_at": created,
                    "status": value.finishReason == "length" ? "incomplete" : "completed", "model": modelName,
                    "output": .array(content), "usage": usage(input, output, names: ("input_tokens", "output_tokens"))]
        case .completions:
            return ["id": .string("cmpl-" + randomHex(24)), "object": "text_completion", "created": created, "model": modelName,
                    "choices": [["text": .string(value.text ?? ""), "index": 0, "logprobs": .null,
                                 "finish_reason": value.finishReason.map(JSONValue.string) ?? .null]],
                    "usage": usage(input, output, names: ("prompt_tokens", "completion_tokens"))]
        case .chat, .messages, .raw:
            var message: JSONObject = ["role": "assistant", "content": value.text.map(JSONValue.string) ?? .null]
            if let calls = value.toolCalls { message["tool_calls"] = calls }
            return ["id": .string("chatcmpl-" + randomHex(24)), "object": "chat.completion", "created": created, "model": modelName,
                    "choices": [["index": 0, "message": .object(message), "logprobs": .null,
                                 "finish_reason": value.finishReason.map(JSONValue.string) ?? .null]],
                    "usage": usage(input, output, names: ("prompt_tokens", "completion_tokens"))]
        }
    }

    private static func usage(_ input: Int, _ output: Int, names: (String, String)) -> JSONValue {
        [names.0: .number(JSONNumber(input)), names.1: .number(JSONNumber(output)), "total_tokens": .number(JSONNumber(input + output))]
    }

    private static func randomHex(_ count: Int) -> String {
        let digits = Array("0123456789abcdef")
        return String((0..<count).map { _ in digits[Int.random(in: 0..<16)] })
    }

    /// A Batch output line's key and whether it succeeded (for resume); nil when the line is
    /// not one, or is one resume ignores (a duplicate key, an unrouted line).
    package static func journaled(_ object: JSONObject) -> (key: String, ok: Bool)? {
        guard let key = object["custom_id"]?.stringValue, object["response"] != nil || object["error"] != nil else { return nil }
        if let code = object["error"]?["code"]?.stringValue, code == unroutedCode || code == duplicateCode { return nil }
        let status = object["response"]?["status_code"]?.intValue ?? 0
        let failed = object["error"].map { !$0.isNull } ?? false
        return (key, (200..<300).contains(status) && !failed)
    }
}
