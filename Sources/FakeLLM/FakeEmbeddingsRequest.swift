import VolleyJSON

/// The parts of an OpenAI `POST /v1/embeddings` body that shape the answer, validated as
/// OpenAI does.
struct FakeEmbeddingsRequest: Sendable, Equatable {
    /// How the vectors are written: JSON numbers, or base64 of little-endian float32 bytes.
    enum Encoding: String, Sendable, Equatable {
        case float
        case base64
    }

    var model: String
    /// The texts or token arrays to embed, in order (one vector each).
    var inputs: [FakePrompt]
    var encoding: Encoding
    /// Length of every vector: `dimensions`, else the model's default.
    var dimensions: Int
    /// The inputs' tokens summed, each counted apart (see `FakePrompt.tokenCount`).
    var inputTokens: Int

    /// Most inputs in one request.
    static let maxInputs = 2048
    /// Most tokens in one input (the embedding models' context).
    static let maxInputTokens = 8192
    /// The widest vector `dimensions` may ask for (text-embedding-3-large's).
    static let maxDimensions = 3072
    /// The vector length without `dimensions` (text-embedding-3-small's and ada-002's).
    static let defaultDimensions = 1536

    /// The vector length of `model` without `dimensions`: 3072 for text-embedding-3-large, as
    /// there, else `defaultDimensions`.
    static func defaultDimensions(for model: String) -> Int {
        model.hasPrefix("text-embedding-3-large") ? maxDimensions : defaultDimensions
    }

    /// OpenAI's message for an input it cannot take (an empty string, a wrong type, an empty array).
    static let invalidInputMessage =
        "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."

    /// Reads an OpenAI `POST /v1/embeddings` body.
    static func openAI(_ body: JSONValue) throws(FakeRequestProblem) -> FakeEmbeddingsRequest {
        guard case .object = body else { throw FakeRequestProblem("The request body must be a JSON object.") }
        let model = try FakeRequestFields.requiredModel(body)
        guard let value = body["input"], !value.isNull else {
            throw FakeRequestProblem("Missing required parameter: 'input'.", param: "input")
        }
        if let count = value.arrayValue?.count, count > maxInputs {
            throw FakeRequestProblem(
                "Invalid 'input': array too long. Expected an array with maximum length \(maxInputs), but got an "
                    + "array with length \(count) instead.", param: "input")
        }
        guard let inputs = FakeRequestFields.prompts(value), !inputs.contains(.text("")) else {
            throw FakeRequestProblem(invalidInputMessage)
        }
        var inputTokens = 0
        for input in inputs {
            let tokens = input.tokenCount
            if tokens > maxInputTokens {
                throw FakeRequestProblem(
                    "This model's maximum context length is \(maxInputTokens) tokens, however you requested \(tokens) "
                        + "tokens (\(tokens) in your prompt; 0 for the completion). Please reduce your prompt; or "
                        + "completion length.")
            }
            inputTokens += tokens
        }
        let encoding: Encoding
        switch body["encoding_format"] {
        case nil, .null?:
            encoding = .float
        case .string(let text)?:
            guard let known = Encoding(rawValue: text) else {
                throw FakeRequestProblem(
                    "Invalid value: '\(text)'. Supported values are: 'float' and 'base64'.", param: "encoding_format")
            }
            encoding = known
        case let other?:
            throw FakeRequestProblem(
                "Invalid type for 'encoding_format': expected one of 'float' or 'base64', but got "
                    + "\(FakeRequestFields.typeName(other)) instead.", param: "encoding_format")
        }
        let dimensions = try FakeRequestFields.optionalInt(body, "dimensions", in: 1...maxDimensions)
        return FakeEmbeddingsRequest(
            model: model, inputs: inputs, encoding: encoding,
            dimensions: dimensions ?? defaultDimensions(for: model), inputTokens: inputTokens)
    }
}
