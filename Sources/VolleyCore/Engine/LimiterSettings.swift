/// The limits of one limiter (one `LimiterIdentity`): a provider's for a model, or the
/// strictest of several providers' when they share the identity (`strictest(_:)`).
struct LimiterSettings: Sendable, Hashable {
    var concurrency: Int
    var rpm: Int?
    var tpm: Int?
    /// Anthropic-style separate budgets: input tokens and output tokens per minute.
    var itpm: Int? = nil
    var otpm: Int? = nil
    /// Requests allowed back to back after idle (nil: `RequestRate.defaultBurst`).
    var burst: Int? = nil
    /// Tokens a token bucket holds (nil: a minute's budget).
    var tokenBurst: Int? = nil
    /// Whether the provider gives back the unused part of a reservation when a call ends.
    /// Anthropic adjusts to the tokens really used; OpenAI charges its estimate (prompt +
    /// `max_tokens`) when the request arrives and keeps it, so reconciling downwards would
    /// make us more optimistic than the server.
    var refundsUnusedTokens = true
    /// Whether rate and concurrency adapt to refusals (`AdaptiveLimit`).
    var adaptive = false
    /// Whether to slow-start (neither `rpm` nor `concurrency` was configured).
    var slowStart = false
    /// The longest cooldown a `retry-after` may set (`retry.max_retry_after`).
    var maxRetryAfter: Double = 120
    /// The cooldown after a bare 429 when the limiter does not adapt (`retry.initial_delay`).
    var barePause: Double = 0.5
    /// The providers whose items use this limiter, sorted (for `stats`; not a limit).
    var providers: [String] = []
    /// The engine sessions (host connections) whose items use it, sorted (for `stats`).
    var sessions: [UInt64] = []
}

extension LimiterSettings {
    /// These settings with their rate limits scaled by `scale` (each at least 1); concurrency
    /// is left alone. `self` when `scale` is 1.
    func scaled(_ scale: Double) -> LimiterSettings {
        guard scale != 1 else { return self }
        func part(_ limit: Int?) -> Int? { limit.map { max(1, Int((Double($0) * scale).rounded(.down))) } }
        var scaled = self
        scaled.rpm = part(rpm)
        scaled.tpm = part(tpm)
        scaled.itpm = part(itpm)
        scaled.otpm = part(otpm)
        return scaled
    }
}
