import VolleySystem

/// The limiter an item uses: the scheduler's key for it, its readable name (in `stats` and
/// logs) and the settings it is admitted under.
///
/// A class, made once per `LimiterIdentity` by the engine's `LimiterDirectory` and shared by
/// every item of every session that calls that origin with that key for that model: held
/// inline, its settings made each prepared item ~150 bytes larger (3 MB of sidecar RSS at bench
/// W1's 20,000 items). Name and settings change when the sessions using it change (another
/// host's stricter limits, a session closing), so they sit behind a lock; the key never changes,
/// so the scheduler's state for it survives renames.
final class LimiterAssignment: Sendable, Equatable {
    /// The scheduler's key: unique in the engine, never shown.
    let key: String
    /// The limiter's id in Redis (shared limits): a digest of its identity, the same on every
    /// machine, that reveals neither the key nor its fingerprint; nil for a mock's limiter,
    /// which is never shared.
    let sharedID: String?
    /// What the limiter's account may spend (one for every model of the account).
    let budget: AccountBudget
    private let state: Locked<(name: String, settings: LimiterSettings)>

    init(key: String, name: String, settings: LimiterSettings, sharedID: String? = nil, budget: AccountBudget = AccountBudget()) {
        self.key = key
        self.sharedID = sharedID
        self.budget = budget
        state = Locked((name, settings))
    }

    /// `key` defaults to the name (a limiter made outside a directory, in tests).
    convenience init(name: String, settings: LimiterSettings) {
        self.init(key: name, name: name, settings: settings)
    }

    var name: String { state.withLock { $0.name } }
    var settings: LimiterSettings { state.withLock { $0.settings } }

    func update(name: String, settings: LimiterSettings) {
        state.withLock { $0 = (name, settings) }
    }

    static func == (a: LimiterAssignment, b: LimiterAssignment) -> Bool { a === b }
}
