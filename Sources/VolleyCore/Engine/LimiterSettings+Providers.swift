extension LimiterSettings {
    /// The limits `config` sets for `model`, with the kind's defaults.
    init(_ config: ProviderConfig, model: String?) {
        let limits = config.limits(for: model)
        self.init(
            concurrency: limits.concurrency ?? 1024, rpm: limits.rpm, tpm: limits.tpm,
            itpm: limits.itpm, otpm: limits.otpm, burst: limits.burst, tokenBurst: limits.tokenBurst,
            refundsUnusedTokens: config.kind != .openai,
            adaptive: config.kind != .mock && (limits.adaptive ?? true),
            slowStart: !config.configuresRateOrConcurrency(for: model),
            maxRetryAfter: config.retry.maxRetryAfterSeconds, barePause: config.retry.initialDelaySeconds,
            providers: [config.name])
    }

    /// One limiter's settings for providers that share it (docs/protocol.md, "Limits"): the
    /// strictest of each field, so that whichever provider an item names, the shared budget is
    /// never overrun. Limits (`concurrency`, `rpm`, `tpm`, `itpm`, `otpm`, `burst`,
    /// `token_burst`): the smallest of those set (unset is no limit). Tokens are refunded only
    /// if every provider refunds; limits adapt if any provider's do; slow start only if none
    /// states a rate or concurrency (one that does knows the limit); the cooldown cap and the
    /// bare-429 pause are the longest. Order does not matter (the result is the same for any
    /// order of `all`), so the settings cannot flap between two providers'.
    static func strictest(_ all: [LimiterSettings]) -> LimiterSettings {
        guard var merged = all.first else { return LimiterSettings(concurrency: 1) }
        func least(_ a: Int?, _ b: Int?) -> Int? {
            guard let a else { return b }
            guard let b else { return a }
            return min(a, b)
        }
        for other in all.dropFirst() {
            merged.concurrency = min(merged.concurrency, other.concurrency)
            merged.rpm = least(merged.rpm, other.rpm)
            merged.tpm = least(merged.tpm, other.tpm)
            merged.itpm = least(merged.itpm, other.itpm)
            merged.otpm = least(merged.otpm, other.otpm)
            merged.burst = least(merged.burst, other.burst)
            merged.tokenBurst = least(merged.tokenBurst, other.tokenBurst)
            merged.refundsUnusedTokens = merged.refundsUnusedTokens && other.refundsUnusedTokens
            merged.adaptive = merged.adaptive || other.adaptive
            merged.slowStart = merged.slowStart && other.slowStart
            merged.maxRetryAfter = max(merged.maxRetryAfter, other.maxRetryAfter)
            merged.barePause = max(merged.barePause, other.barePause)
            merged.providers += other.providers
        }
        merged.providers = Array(Set(merged.providers)).sorted()
        return merged
    }
}
