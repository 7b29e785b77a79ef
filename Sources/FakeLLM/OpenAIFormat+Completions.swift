import VolleyJSON

extension OpenAIFormat {
    /// A legacy `POST /v1/completions` usage object: just the three counts.
    static func textCompletionUsage(prompt: Int, completion: Int) -> JSONValue {
        .object([
            "prompt_tokens": JSONValue(prompt),
            "completion_tokens": JSONValue(completion),
            "total_tokens": JSONValue(prompt + completion),
        ])
    }

    /// A non-streaming `text_completion`: one choice per prompt, in prompt order.
    static func textCompletion(
        id: String, created: Int, model: String, replies: [FakeReply], promptTokens: Int
    ) -> JSONValue {
        let choices = replies.enumerated().map { index, reply in
            JSONValue.object([
                "text": .string(reply.text),
                "index": JSONValue(index),
                "logprobs": .null,
                "finish_reason": .string(finishReason(reply)),
            ])
        }
        return .object([
            "id": .string(id),
            "object": .string("text_completion"),
            "created": JSONValue(created),
            "model": .string(model),
            "system_fingerprint": .string(systemFingerprint),
            "choices": .array(choices),
            "usage": textCompletionUsage(
                prompt: promptTokens, completion: replies.reduce(0) { $0 + $1.outputTokens }),
        ])
    }

    /// The SSE events of a streamed `text_completion`, each `data: …\n\n`: every prompt's pieces
    /// in turn, one chunk each, then a chunk with an empty text and its `finish_reason`; with
    /// `include_usage`, every chunk has `"usage": null` and a last chunk with no choices carries
    /// the usage; `data: [DONE]` ends the stream.
    static func textCompletionEvents(
        id: String, created: Int, model: String, replies: [FakeReply], promptTokens: Int, includeUsage: Bool
    ) -> [[UInt8]] {
        func chunk(_ choices: [JSONValue], usage: JSONValue? = nil) -> JSONValue {
            var members: JSONObject = [
                "id": .string(id),
                "object": .string("text_completion"),
                "created": JSONValue(created),
                "choices": .array(choices),
                "model": .string(model),
                "system_fingerprint": .string(systemFingerprint),
            ]
            if includeUsage { members.updateValue(usage ?? .null, forKey: "usage") }
            return .object(members)
        }
        func choice(_ index: Int, _ text: String, finishReason: JSONValue = .null) -> JSONValue {
            .object(["text": .string(text), "index": JSONValue(index), "logprobs": .null, "finish_reason": finishReason])
        }
        var chunks: [JSONValue] = []
        for (index, reply) in replies.enumerated() {
            for piece in reply.pieces {
                chunks.append(chunk([choice(index, piece)]))
            }
            chunks.append(chunk([choice(index, "", finishReason: .string(finishReason(reply)))]))
        }
        if includeUsage {
            let completion = replies.reduce(0) { $0 + $1.outputTokens }
            chunks.append(chunk([], usage: textCompletionUsage(prompt: promptTokens, completion: completion)))
        }
        var events = chunks.map { Array("data: \($0.jsonString)\n\n".utf8) }
        events.append(Array("data: [DONE]\n\n".utf8))
        return events
    }
}
