import VolleyJSON

/// A model endpoint: a route whose requests are scripted, rate limited, held against
/// `maxInFlight` and counted as model replies. Each reads its own body shape into a
/// `FakeModelRequest`; everything else (scripting, limits, failures, delivery) is shared.
enum FakeEndpoint: Sendable, CaseIterable {
    /// `POST /v1/chat/completions`.
    case chatCompletions
    /// `POST /v1/responses`.
    case responses
    /// `POST /v1/completions` (legacy text completions).
    case completions
    /// `POST /v1/embeddings`.
    case embeddings
    /// `POST /v1/messages` (Anthropic).
    case messages

    /// The route's path.
    var path: String {
        switch self {
        case .chatCompletions: return "/v1/chat/completions"
        case .responses: return "/v1/responses"
        case .completions: return "/v1/completions"
        case .embeddings: return "/v1/embeddings"
        case .messages: return "/v1/messages"
        }
    }

    /// The endpoint served on `path` (always by `POST`), if any.
    init?(path: String) {
        guard let endpoint = Self.allCases.first(where: { $0.path == path }) else { return nil }
        self = endpoint
    }

    /// Whose conventions the answers follow: error shape, request id and rate-limit headers.
    var api: RequestPlanner.API {
        switch self {
        case .chatCompletions, .responses, .completions, .embeddings: return .openAI
        case .messages: return .anthropic
        }
    }

    /// Reads and validates a parsed body.
    func read(_ body: JSONValue) throws(FakeRequestProblem) -> FakeModelRequest {
        switch self {
        case .chatCompletions: return .chatCompletions(try FakeChatRequest.openAI(body))
        case .responses: return .responses(try FakeChatRequest.responses(body))
        case .completions: return .completions(try FakeChatRequest.completions(body))
        case .embeddings: return .embeddings(try FakeEmbeddingsRequest.openAI(body))
        case .messages: return .messages(try FakeChatRequest.anthropic(body))
        }
    }
}

/// A validated model request, one case per `FakeEndpoint`, carrying what shapes its answer.
enum FakeModelRequest: Sendable, Equatable {
    case chatCompletions(FakeChatRequest)
    case responses(FakeChatRequest)
    case completions(FakeChatRequest)
    case embeddings(FakeEmbeddingsRequest)
    case messages(FakeChatRequest)

    var model: String {
        switch self {
        case .chatCompletions(let request), .responses(let request), .completions(let request),
            .messages(let request):
            return request.model
        case .embeddings(let request): return request.model
        }
    }

    /// Prompt tokens, as `FakeTokenizer` counts them.
    var inputTokens: Int {
        switch self {
        case .chatCompletions(let request), .responses(let request), .completions(let request),
            .messages(let request):
            return request.inputTokens
        case .embeddings(let request): return request.inputTokens
        }
    }

    /// The tokens charged against the TPM bucket up front, as OpenAI estimates them: the prompt
    /// plus the most the reply may take (`max_tokens`, else `defaultOutputTokens`) for each
    /// choice; embeddings have no output, so only their input.
    func tokenCost(defaultOutputTokens: Int) -> Int {
        switch self {
        case .chatCompletions(let request), .responses(let request), .completions(let request),
            .messages(let request):
            return request.inputTokens + (request.maxTokens ?? defaultOutputTokens) * request.choiceCount
        case .embeddings(let request):
            return request.inputTokens
        }
    }
}
