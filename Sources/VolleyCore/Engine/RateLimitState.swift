/// What a response's rate-limit headers say (OpenAI `x-ratelimit-*`, Anthropic
/// `anthropic-ratelimit-*`).
public struct RateLimitState: Sendable, Hashable {
    public var requestsRemaining: Int?
    public var requestsResetSeconds: Double?
    public var tokensRemaining: Int?
    public var tokensResetSeconds: Double?
    /// Anthropic's separate input and output token budgets.
    public var inputTokensRemaining: Int?
    public var outputTokensRemaining: Int?
    /// The limits themselves (per minute), as the provider states them.
    public var requestsLimit: Int?
    public var tokensLimit: Int?
    public var inputTokensLimit: Int?
    public var outputTokensLimit: Int?

    public init(requestsRemaining: Int? = nil, requestsResetSeconds: Double? = nil,
                tokensRemaining: Int? = nil, tokensResetSeconds: Double? = nil,
                inputTokensRemaining: Int? = nil, outputTokensRemaining: Int? = nil) {
        self.requestsRemaining = requestsRemaining
        self.requestsResetSeconds = requestsResetSeconds
        self.tokensRemaining = tokensRemaining
        self.tokensResetSeconds = tokensResetSeconds
        self.inputTokensRemaining = inputTokensRemaining
        self.outputTokensRemaining = outputTokensRemaining
    }

    public var isEmpty: Bool {
        requestsRemaining == nil && tokensRemaining == nil && inputTokensRemaining == nil && outputTokensRemaining == nil
            && requestsLimit == nil && tokensLimit == nil && inputTokensLimit == nil && outputTokensLimit == nil
    }
}
