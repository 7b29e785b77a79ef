import Synchronization

/// Which limiter an item of (provider, model) uses, and under which settings: one table per
/// configuration, built when providers change (`Engine.configure`), so a key is hashed once per
/// provider per configuration and an item costs one lookup.
///
/// Providers whose `LimiterIdentity.Account` is equal (same origin, same key, or both keyless)
/// share a limiter per model. Its name, the key of `stats.limiters` and of the logs, is
/// `<provider>/<model>` (`<provider>` for items naming no model) of one of them: the one it was
/// named after in the previous configuration while that provider still uses it, else the first
/// by name. So a provider that shares its key with no other keeps the name it always had, and
/// adding a provider to a shared key never renames the limiter under running batches (which
/// would split one budget in two). The name never holds key material. Its settings are the
/// strictest of the sharing providers' (`LimiterSettings.strictest`), the same for every item
/// whichever provider it names.
final class LimiterTable: Sendable {
    private struct Key: Hashable {
        var provider: String
        var model: String?
    }

    /// Per provider: the providers sharing its account, the one the limiter is named after
    /// first, then the others by name (itself among them).
    private let sharing: [String: [ProviderConfig]]
    private let accounts: [String: LimiterIdentity.Account]
    /// Per account: the provider its limiters are named after.
    private let namedAfter: [LimiterIdentity.Account: String]
    /// Assignments worked out so far (models are known only from items).
    private let cache = Mutex<[Key: LimiterAssignment]>([:])

    /// - Parameter previous: the table of the configuration this one replaces, whose names are
    ///   kept where they still apply.
    init(_ set: ProviderSet, previous: LimiterTable? = nil) {
        var accounts: [String: LimiterIdentity.Account] = [:]
        var groups: [LimiterIdentity.Account: [ProviderConfig]] = [:]
        for config in set.providers.values {
            let account = LimiterIdentity.Account(config)
            accounts[config.name] = account
            groups[account, default: []].append(config)
        }
        var sharing: [String: [ProviderConfig]] = [:]
        var namedAfter: [LimiterIdentity.Account: String] = [:]
        for (account, var members) in groups {
            members.sort { $0.name < $1.name }
            if let kept = previous?.namedAfter[account], let at = members.firstIndex(where: { $0.name == kept }) {
                members.insert(members.remove(at: at), at: 0)
            }
            namedAfter[account] = members[0].name
            for member in members { sharing[member.name] = members }
        }
        self.sharing = sharing
        self.accounts = accounts
        self.namedAfter = namedAfter
    }

    /// The limiter of items of `config` naming `model`. A provider the table was not built
    /// with gets a limiter of its own.
    func assignment(for config: ProviderConfig, model: String?) -> LimiterAssignment {
        let key = Key(provider: config.name, model: model)
        if let known = cache.withLock({ $0[key] }) { return known }
        let members = sharing[config.name] ?? [config]
        let first = members[0].name
        let assignment = LimiterAssignment(
            name: model.map { "\(first)/\($0)" } ?? first,
            settings: .strictest(members.map { LimiterSettings($0, model: model) }))
        cache.withLock { $0[key] = assignment }
        return assignment
    }

    /// What the limiter of (`provider`, `model`) stands for (for tests).
    func identity(provider: String, model: String?) -> LimiterIdentity? {
        accounts[provider].map { LimiterIdentity(account: $0, model: model) }
    }
}
