/// What a limiter stands for: the budget one API key has at one API, for one model. Two
/// providers with different names that call the same origin with the same key spend one
/// budget, so they share one limiter; the provider's name plays no part.
///
/// - `origin`: `scheme://host:port` of the base URL (`ProviderConfig.origin`); for a `mock`
///   provider, which has no origin, `mock:` and the provider's name (each mock is its own
///   budget).
/// - `key`: the key's fingerprint (`KeyFingerprint`); nil for a provider without a key (a local
///   server), which is then identified by origin and model alone.
/// - `model`: the item's model (nil for items naming none).
///
/// Never shown: logs and `stats` name a limiter by `LimiterTable`'s readable name.
struct LimiterIdentity: Hashable, Sendable {
    /// The per-provider part: one per configured provider, computed once per configuration.
    struct Account: Hashable, Sendable {
        var origin: String
        var key: KeyFingerprint?

        init(_ config: ProviderConfig) {
            origin = config.kind == .mock ? "mock:\(config.name)" : config.origin
            key = config.apiKey.map { KeyFingerprint(key: $0) }
        }
    }

    var account: Account
    var model: String?
}
