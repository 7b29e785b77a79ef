import VolleyJSON

/// OpenAI Responses API (`POST /v1/responses`) bodies and SSE events, shaped as the real API
/// sends them. Errors and headers are chat's (`OpenAIFormat`).
enum ResponsesFormat {
    /// The ids one answer uses.
    struct IDs: Sendable, Equatable {
        /// `resp_…`, the response's.
        var response: String
        /// `msg_…` of the message item, or `fc_…` of the function call item.
        var item: String
        /// `call_…`, a function call's `call_id`.
        var call: String
    }

    /// The request members an answer repeats, with the value the API reports when the request
    /// leaves one out, in the answer's order. `model` and `output` come between
    /// `max_tool_calls` and `parallel_tool_calls`; `usage` between `truncation` and `user`.
    static let settingDefaults: [(key: String, value: JSONValue)] = [
        ("instructions", .null),
        ("max_output_tokens", .null),
        ("max_tool_calls", .null),
        ("parallel_tool_calls", .bool(true)),
        ("previous_response_id", .null),
        ("reasoning", .object(["effort": .null, "summary": .null])),
        ("service_tier", .string("default")),
        ("store", .bool(true)),
        ("temperature", JSONValue(1.0)),
        ("text", .object(["format": .object(["type": .string("text")])])),
        ("tool_choice", .string("auto")),
        ("tools", .array([])),
        ("top_logprobs", JSONValue(0)),
        ("top_p", JSONValue(1.0)),
        ("truncation", .string("disabled")),
        ("user", .null),
        ("metadata", .object([:])),
    ]

    /// What the answer to `body` repeats of it: each of `settingDefaults`, the request's value
    /// when it gives one (not `null`), else the default.
    static func settings(of body: JSONValue) -> JSONObject {
        var settings = JSONObject(minimumCapacity: settingDefaults.count)
        for (key, fallback) in settingDefaults {
            let given = body[key].flatMap { $0.isNull ? nil : $0 }
            settings.updateValue(given ?? fallback, forKey: key)
        }
        return settings
    }

    /// `completed`, or `incomplete` when `max_output_tokens` cut the reply short.
    static func status(_ reply: FakeReply) -> String {
        reply.truncated ? "incomplete" : "completed"
    }

    static func usage(input: Int, output: Int) -> JSONValue {
        .object([
            "input_tokens": JSONValue(input),
            "input_tokens_details": .object(["cached_tokens": 0]),
            "output_tokens": JSONValue(output),
            "output_tokens_details": .object(["reasoning_tokens": 0]),
            "total_tokens": JSONValue(input + output),
        ])
    }

    /// The one `output_text` part of a message whose text is `text`.
    static func textPart(_ text: String) -> JSONValue {
        .object(["type": .string("output_text"), "text": .string(text), "annotations": .array([])])
    }

    /// The output item: a `message` with one `output_text` part, or a `function_call`.
    /// `done` false gives the item as `response.output_item.added` opens it: in progress, with
    /// no content or arguments yet.
    static func outputItem(_ reply: FakeReply, ids: IDs, done: Bool = true) -> JSONValue {
        if let call = reply.toolCall {
            return .object([
                "type": .string("function_call"),
                "id": .string(ids.item),
                "call_id": .string(ids.call),
                "name": .string(call.name),
                "arguments": .string(done ? call.argumentsText : ""),
                "status": .string(done ? "completed" : "in_progress"),
            ])
        }
        return .object([
            "type": .string("message"),
            "id": .string(ids.item),
            "status": .string(done ? status(reply) : "in_progress"),
            "role": .string("assistant"),
            "content": .array(done ? [textPart(reply.text)] : []),
        ])
    }

    /// A `response` object. `reply` nil gives it as `response.created` and
    /// `response.in_progress` show it: in progress, no output, no usage.
    static func response(ids: IDs, created: Int, request: FakeChatRequest, reply: FakeReply?) -> JSONValue {
        var members = JSONObject(minimumCapacity: 28)
        members.updateValue(.string(ids.response), forKey: "id")
        members.updateValue(.string("response"), forKey: "object")
        members.updateValue(JSONValue(created), forKey: "created_at")
        members.updateValue(.string(reply.map { Self.status($0) } ?? "in_progress"), forKey: "status")
        members.updateValue(.bool(false), forKey: "background")
        members.updateValue(.null, forKey: "error")
        let incomplete: JSONValue =
            reply?.truncated == true ? .object(["reason": .string("max_output_tokens")]) : .null
        members.updateValue(incomplete, forKey: "incomplete_details")
        for (key, value) in request.responseSettings {
            if key == "parallel_tool_calls" {
                members.updateValue(.string(request.model), forKey: "model")
                members.updateValue(.array(reply.map { [outputItem($0, ids: ids)] } ?? []), forKey: "output")
            }
            if key == "user" {
                let counts = reply.map { Self.usage(input: request.inputTokens, output: $0.outputTokens) }
                members.updateValue(counts ?? .null, forKey: "usage")
            }
            members.updateValue(value, forKey: key)
        }
        return .object(members)
    }

    /// The SSE events of a streamed response, `event: …\ndata: …\n\n`, as OpenAI sends them:
    /// `response.created`, `response.in_progress`, `response.output_item.added`, then for text
    /// `response.content_part.added`, one `response.output_text.delta` per piece,
    /// `response.output_text.done`, `response.content_part.done` (for a function call,
    /// `response.function_call_arguments.delta` and `.done`), `response.output_item.done`, and
    /// last `response.completed` (`response.incomplete` when `max_output_tokens` cut it).
    /// Every event carries its `sequence_number`, from 0; there is no `[DONE]`.
    static func streamEvents(ids: IDs, created: Int, request: FakeChatRequest, reply: FakeReply) -> [[UInt8]] {
        var events: [[UInt8]] = []
        func event(_ type: String, _ members: JSONObject) {
            var body: JSONObject = ["type": .string(type), "sequence_number": JSONValue(events.count)]
            for (key, value) in members { body.updateValue(value, forKey: key) }
            events.append(Array("event: \(type)\ndata: \(JSONValue.object(body).jsonString)\n\n".utf8))
        }
        let opening = response(ids: ids, created: created, request: request, reply: nil)
        event("response.created", ["response": opening])
        event("response.in_progress", ["response": opening])
        let position: JSONObject = ["item_id": .string(ids.item), "output_index": 0]
        func at(_ extra: JSONObject, content: Bool = true) -> JSONObject {
            var members = position
            if content { members.updateValue(0, forKey: "content_index") }
            for (key, value) in extra { members.updateValue(value, forKey: key) }
            return members
        }
        event("response.output_item.added", ["output_index": 0, "item": outputItem(reply, ids: ids, done: false)])
        if let call = reply.toolCall {
            event("response.function_call_arguments.delta", at(["delta": .string(call.argumentsText)], content: false))
            event("response.function_call_arguments.done", at(["arguments": .string(call.argumentsText)], content: false))
        } else {
            event("response.content_part.added", at(["part": textPart("")]))
            for piece in reply.pieces {
                event("response.output_text.delta", at(["delta": .string(piece), "logprobs": .array([])]))
            }
            event("response.output_text.done", at(["text": .string(reply.text), "logprobs": .array([])]))
            event("response.content_part.done", at(["part": textPart(reply.text)]))
        }
        event("response.output_item.done", ["output_index": 0, "item": outputItem(reply, ids: ids)])
        let final = response(ids: ids, created: created, request: request, reply: reply)
        event(reply.truncated ? "response.incomplete" : "response.completed", ["response": final])
        return events
    }
}
