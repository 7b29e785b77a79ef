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

extension LimiterIdentity {
    /// The id of this limiter in Redis, the same on every machine: 24 hex digits of SHA-256 over
    /// the origin, the key's fingerprint and the model. Not the fingerprint (a digest of the
    /// key alone), and no key material. Nil for a mock, whose budget is never shared.
    var sharedID: String? {
        guard !account.origin.hasPrefix("mock:") else { return nil }
        var input = Array("volley.shared-limiter.v1\u{0}".utf8) + Array(account.origin.utf8) + [0]
        input += account.key?.bytes ?? []
        input += [0] + Array((model ?? "").utf8)
        return KeyFingerprint.sha256(input).prefix(12).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

extension LimiterIdentity.Account {
    /// The id of this account's shared budget in Redis, the same on every machine: 24 hex
    /// digits of SHA-256 over the origin and the key's fingerprint (no key material). Nil for a
    /// mock.
    var sharedBudgetID: String? {
        guard !origin.hasPrefix("mock:") else { return nil }
        var input = Array("volley.shared-budget.v1\u{0}".utf8) + Array(origin.utf8) + [0]
        input += key?.bytes ?? []
        return KeyFingerprint.sha256(input).prefix(12).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
