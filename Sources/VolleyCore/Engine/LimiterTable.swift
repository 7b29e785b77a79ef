import Synchronization
import VolleySystem

/// Which limiter an item of (provider, model) uses, and under which settings: one table per
/// session configuration, built when its providers change (`EngineSession.configure`), so a key
/// is hashed once per provider per configuration and an item costs one lookup. The limiters
/// themselves are the engine's (`LimiterDirectory`), shared with every other session that
/// calls the same origin with the same key: this table says what this session wants of them.
///
/// Providers whose `LimiterIdentity.Account` is equal (same origin, same key, or both keyless)
/// share a limiter per model. Its name, the key of `stats.limiters` and of the logs, is
/// `<provider>/<model>` (`<provider>` for items naming no model) of one of them: the one it was
/// named after in the previous configuration while that provider still uses it, else the first
/// by name. So a provider that shares its key with no other keeps the name it always had, and
/// adding a provider to a shared key never renames the limiter under running batches (which
/// would split one budget in two). The name never holds key material. Its settings are the
/// strictest of the sharing providers' (`LimiterSettings.strictest`), the same for every item
/// whichever provider it names; across sessions the directory keeps the strictest of all.
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
    private let cache = Locked<[Key: LimiterAssignment]>([:])
    private let directory: LimiterDirectory
    private let session: UInt64
    private let registered = Atomic<Bool>(false)

    /// - Parameters:
    ///   - previous: the table of the configuration this one replaces, whose names are kept
    ///     where they still apply.
    ///   - directory: the engine's limiters (a table of its own when not given, in tests).
    ///   - session: whose configuration this is.
    init(_ set: ProviderSet, previous: LimiterTable? = nil, directory: LimiterDirectory = LimiterDirectory(),
         session: UInt64 = 0) {
        self.directory = directory
        self.session = session
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

    /// Tells the directory which accounts this configuration uses (once; an assignment does
    /// it first if nobody did).
    func register() {
        guard !registered.exchange(true, ordering: .relaxed) else { return }
        var registrations: [LimiterIdentity.Account: LimiterDirectory.Registration] = [:]
        for (name, account) in accounts where registrations[account] == nil {
            if let members = sharing[name] { registrations[account] = .init(members: members) }
        }
        directory.register(session: session, registrations)
    }

    /// The limiter of items of `config` naming `model`. A provider the table was not built
    /// with gets a limiter of its own.
    func assignment(for config: ProviderConfig, model: String?) -> LimiterAssignment {
        let key = Key(provider: config.name, model: model)
        if let known = cache.withLock({ $0[key] }) { return known }
        register()
        let assignment = directory.assignment(
            for: LimiterIdentity(account: accounts[config.name] ?? LimiterIdentity.Account(config), model: model),
            fallback: .init(members: sharing[config.name] ?? [config]))
        cache.withLock { $0[key] = assignment }
        return assignment
    }

    /// What `config`'s account may spend.
    func budget(for config: ProviderConfig) -> AccountBudget {
        register()
        return directory.budget(for: accounts[config.name] ?? LimiterIdentity.Account(config), fallback: sharing[config.name] ?? [config])
    }

    /// What the limiter of (`provider`, `model`) stands for (for tests).
    func identity(provider: String, model: String?) -> LimiterIdentity? {
        accounts[provider].map { LimiterIdentity(account: $0, model: model) }
    }
}
