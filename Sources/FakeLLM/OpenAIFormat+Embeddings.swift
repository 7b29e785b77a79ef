import VolleyJSON

extension OpenAIFormat {
    /// A `POST /v1/embeddings` answer: `{"object":"list","data":[…],"model","usage"}`, one
    /// `embedding` object per input in input order, its vector a JSON array of the float32
    /// values (widened to double, as OpenAI writes them) or their base64 text.
    static func embeddings(_ request: FakeEmbeddingsRequest) -> JSONValue {
        var data: [JSONValue] = []
        data.reserveCapacity(request.inputs.count)
        for (index, input) in request.inputs.enumerated() {
            let vector = FakeEmbedding.vector(for: input, dimensions: request.dimensions)
            let embedding: JSONValue
            switch request.encoding {
            case .float: embedding = .array(vector.map { JSONValue(Double($0)) })
            case .base64: embedding = .string(FakeEmbedding.base64(vector))
            }
            data.append(.object(["object": .string("embedding"), "index": JSONValue(index), "embedding": embedding]))
        }
        return .object([
            "object": .string("list"),
            "data": .array(data),
            "model": .string(request.model),
            "usage": .object([
                "prompt_tokens": JSONValue(request.inputTokens),
                "total_tokens": JSONValue(request.inputTokens),
            ]),
        ])
    }
}
