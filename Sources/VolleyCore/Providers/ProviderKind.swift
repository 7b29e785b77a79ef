/// The wire dialect a provider speaks.
public enum ProviderKind: String, Sendable, CaseIterable {
    /// OpenAI chat completions, or any OpenAI-compatible server.
    case openai
    /// Anthropic Messages API.
    case anthropic
    /// Built in, no network: a deterministic reply after a latency, with scripted failures.
    case mock
}
