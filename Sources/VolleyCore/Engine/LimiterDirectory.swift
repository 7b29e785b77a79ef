import VolleySystem

/// Every limiter of an engine, one per `LimiterIdentity` (API origin, key fingerprint, model),
/// shared by all its sessions: two hosts on one shared sidecar that call the same key through
/// providers named differently get the same `LimiterAssignment`, so they spend one budget.
///
/// Each session registers its accounts (`register`): per account (origin and key), its
/// providers on it, the one its limiters would be named after first. A limiter's settings are
/// the strictest of what every registered session's providers on its account ask for that
/// model, so one host cannot loosen another's limits while both are configured; its name is
/// the one the longest-registered session would give it, made unique among the limiters in
/// use with a `~2` suffix (two hosts whose `openai` providers hold different keys). A session
/// that is reconfigured registers again; one that closes withdraws. A limiter no session
/// registers for any longer keeps its last settings for the attempts still running and is
/// left out of `stats` once idle.
final class LimiterDirectory: Sendable {
    /// What one session has on one account.
    struct Registration: Sendable {
        /// Its providers on the account, the one limiters are named after first.
        var members: [ProviderConfig]
        /// When the session first registered this account (the earliest names the limiter).
        var since: UInt64 = 0
    }

    private struct Entry {
        let assignment: LimiterAssignment
        let created: UInt64
    }

    private struct State {
        var sessions: [UInt64: [LimiterIdentity.Account: Registration]] = [:]
        var entries: [LimiterIdentity: Entry] = [:]
        /// What each account may spend, made with its first limiter and kept for good.
        var budgets: [LimiterIdentity.Account: AccountBudget] = [:]
        var sequence: UInt64 = 0
        /// The share of their rate limits the shared limiters keep (below 1 while Redis, which
        /// holds the real budget, is unreachable).
        var rateScale = 1.0
    }

    typealias Changes = [(key: String, settings: LimiterSettings)]

    private let state = Locked(State())
    /// Told (outside the lock) which limiters' settings changed, by scheduler key.
    private let onChange: @Sendable (Changes) -> Void

    init(onChange: @escaping @Sendable (Changes) -> Void = { _ in }) {
        self.onChange = onChange
    }

    /// Replaces what `session` has registered with `accounts`.
    func register(session: UInt64, _ accounts: [LimiterIdentity.Account: Registration]) {
        let changed = state.withLock { state in
            state.sequence += 1
            var registered: [LimiterIdentity.Account: Registration] = [:]
            for (account, var registration) in accounts {
                registration.since = state.sessions[session]?[account]?.since ?? state.sequence
                registered[account] = registration
            }
            state.sessions[session] = registered
            return Self.refresh(&state)
        }
        if !changed.isEmpty { onChange(changed) }
    }

    /// Scales every shared limiter's rate limits (rpm, tpm, itpm, otpm) by `scale` (1: as
    /// configured), for a sidecar that lost its Redis. Concurrency and mock limiters are kept.
    func setRateScale(_ scale: Double) {
        let changed = state.withLock { state -> Changes in
            guard state.rateScale != scale else { return [] }
            state.rateScale = scale
            return Self.refresh(&state)
        }
        if !changed.isEmpty { onChange(changed) }
    }

    /// Forgets `session` (it closed).
    func withdraw(session: UInt64) {
        let changed = state.withLock { state in
            guard state.sessions.removeValue(forKey: session) != nil else { return Changes() }
            return Self.refresh(&state)
        }
        if !changed.isEmpty { onChange(changed) }
    }

    /// The limiter of `identity` (made on first use; `fallback` is the registration to use
    /// when no session registered the account, for a provider outside any configuration).
    func assignment(for identity: LimiterIdentity, fallback: Registration) -> LimiterAssignment {
        let (assignment, changed) = state.withLock { state -> (LimiterAssignment, Changes) in
            if let entry = state.entries[identity] { return (entry.assignment, []) }
            state.sequence += 1
            let wants = Self.wants(identity, state) ?? [Self.want(identity.model, fallback)]
            let budget = Self.budget(identity.account, &state, fallback: fallback.members)
            let assignment = LimiterAssignment(key: "#\(state.sequence)", name: wants[0].name,
                                               settings: LimiterSettings.strictest(wants.map(\.settings)).scaled(state.rateScale),
                                               sharedID: identity.sharedID, budget: budget)
            state.entries[identity] = Entry(assignment: assignment, created: state.sequence)
            return (assignment, Self.refresh(&state))
        }
        if !changed.isEmpty { onChange(changed) }
        return assignment
    }

    /// What `account` may spend (made on first use, with `fallback`'s limits when no session
    /// registered the account).
    func budget(for account: LimiterIdentity.Account, fallback: [ProviderConfig]) -> AccountBudget {
        state.withLock { Self.budget(account, &$0, fallback: fallback) }
    }

    private static func budget(_ account: LimiterIdentity.Account, _ state: inout State, fallback: [ProviderConfig]) -> AccountBudget {
        if let known = state.budgets[account] { return known }
        let budget = AccountBudget(sharedID: account.sharedBudgetID)
        state.budgets[account] = budget
        let limits = budgetLimits(account, state) ?? budgetLimits(fallback)
        budget.setLimits(lifetime: limits.lifetime, day: limits.day)
        return budget
    }

    /// The limiters some session is registered for, by scheduler key (for `stats`).
    func inUse() -> [String: LimiterAssignment] {
        state.withLock { state in
            var result: [String: LimiterAssignment] = [:]
            for (identity, entry) in state.entries where Self.wants(identity, state) != nil {
                result[entry.assignment.key] = entry.assignment
            }
            return result
        }
    }

    /// The readable name of the limiter with scheduler key `key` (for log lines).
    func name(ofKey key: String) -> String? {
        state.withLock { state in state.entries.values.first { $0.assignment.key == key }?.assignment.name }
    }

    private struct Want {
        var settings: LimiterSettings
        var name: String
        var since: UInt64
    }

    private static func want(_ model: String?, _ registration: Registration) -> Want {
        let first = registration.members[0].name
        return Want(settings: .strictest(registration.members.map { LimiterSettings($0, model: model) }),
                    name: model.map { "\(first)/\($0)" } ?? first, since: registration.since)
    }

    /// What each session registered on `identity`'s account asks of it, longest-registered
    /// first (with its sessions in `settings.sessions`); nil when none is.
    private static func wants(_ identity: LimiterIdentity, _ state: State) -> [Want]? {
        var wants: [(UInt64, Want)] = []
        for (session, accounts) in state.sessions {
            if let registration = accounts[identity.account] { wants.append((session, want(identity.model, registration))) }
        }
        guard !wants.isEmpty else { return nil }
        wants.sort { ($0.1.since, $0.0) < ($1.1.since, $1.0) }
        var result = wants.map(\.1)
        result[0].settings.sessions = wants.map(\.0).sorted()
        return result
    }

    /// The strictest budgets `members` set, by period.
    private static func budgetLimits(_ members: [ProviderConfig]) -> (lifetime: Double?, day: Double?) {
        var limits: (lifetime: Double?, day: Double?) = (nil, nil)
        for budget in members.compactMap(\.budget) {
            switch budget.per {
            case .lifetime: limits.lifetime = min(limits.lifetime ?? .infinity, budget.maxCostUSD)
            case .day: limits.day = min(limits.day ?? .infinity, budget.maxCostUSD)
            }
        }
        return limits
    }

    /// The strictest budgets the sessions registered on `account` set; nil when none is.
    private static func budgetLimits(_ account: LimiterIdentity.Account, _ state: State) -> (lifetime: Double?, day: Double?)? {
        let members = state.sessions.values.compactMap { $0[account]?.members }
        return members.isEmpty ? nil : budgetLimits(members.flatMap { $0 })
    }

    /// Recomputes every registered limiter's settings and name (called under the lock);
    /// returns the limiters whose settings changed.
    private static func refresh(_ state: inout State) -> Changes {
        for (account, budget) in state.budgets {
            let limits = budgetLimits(account, state) ?? (nil, nil)
            budget.setLimits(lifetime: limits.lifetime, day: limits.day)
        }
        var changed: Changes = []
        var taken: Set<String> = []
        for (identity, entry) in state.entries.sorted(by: { $0.value.created < $1.value.created }) {
            guard let wants = wants(identity, state) else { continue }
            var settings = LimiterSettings.strictest(wants.map(\.settings)).scaled(state.rateScale)
            settings.sessions = wants[0].settings.sessions
            var name = wants[0].name
            if taken.contains(name) {
                var suffix = 2
                while taken.contains("\(name)~\(suffix)") { suffix += 1 }
                name = "\(name)~\(suffix)"
            }
            taken.insert(name)
            let old = entry.assignment.settings
            if entry.assignment.name != name || old != settings {
                entry.assignment.update(name: name, settings: settings)
                if old != settings { changed.append((entry.assignment.key, settings)) }
            }
        }
        return changed
    }
}
