import VolleyHTTP

/// Makes one attempt of an item against one provider. Retries, limits and deadlines are the
/// engine's; a client only encodes, sends once and decodes.
public protocol ProviderClient: Sendable {
    var config: ProviderConfig { get }

    /// One attempt. `timeoutSeconds` bounds this attempt (the tighter of the provider's
    /// request timeout and the time left before the item's deadline). Must return promptly
    /// with `.cancelled` when the calling task is cancelled.
    func attempt(_ item: Item, attempt: Int, timeoutSeconds: Double?) async -> Attempt

    /// One attempt of a streamed item (`item.stream`): calls `onDelta` with each piece of
    /// the answer as it arrives (in order, from the calling task), then returns the whole
    /// answer as `attempt` does. A stream that ends without its terminal event is an error.
    func streamAttempt(_ item: Item, attempt: Int, timeoutSeconds: Double?,
                       onDelta: @escaping @Sendable (StreamDelta) -> Void) async -> Attempt
}

/// The result of one attempt, and what the response said about rate limits.
public struct Attempt: Sendable {
    public var result: Result<ItemValue, ItemError>
    public var rateLimits: RateLimitState

    public init(_ result: Result<ItemValue, ItemError>, rateLimits: RateLimitState = RateLimitState()) {
        self.result = result
        self.rateLimits = rateLimits
    }
}

/// Builds the client for a provider configuration.
public func makeProviderClient(_ config: ProviderConfig, http: HTTPClient, clock: any EngineClock = SystemClock()) -> any ProviderClient {
    switch config.kind {
    case .openai: return OpenAIClient(config: config, http: http)
    case .anthropic: return AnthropicClient(config: config, http: http)
    case .mock: return MockClient(config: config, clock: clock)
    }
}
