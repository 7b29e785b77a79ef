import Synchronization
import VolleyHTTP
import VolleySystem

/// One host's view of an engine: its providers (what `initialize` and `configure` set), the
/// environment their `api_key_env` names are read from, and which limiters its items use. A
/// stdio sidecar or `volley run` has one (`Engine.mainSession`); a shared sidecar has one per
/// connection, all running on the same engine, so they share its connection pool, its
/// scheduler and, where they call the same origin with the same key, its limiters.
public final class EngineSession: Sendable {
    private struct Configuration {
        var environment: [String: String]
        var providers: ProviderSet
        var clients: [String: any ProviderClient]
        /// Which limiter each (provider, model) uses: providers sharing an API key share one.
        var limiters: LimiterTable
    }

    /// Unique in its engine; the scheduler's connection (lanes rotate between sessions, and a
    /// session is paused on its own). Shown as `connection` in a shared sidecar.
    public let id: UInt64
    private let http: HTTPClient
    private let clock: any EngineClock
    private let directory: LimiterDirectory
    private let configuration: Locked<Configuration>
    let queuedItems = Atomic<Int>(0)

    init(id: UInt64, environment: [String: String], providers: ProviderSet?, http: HTTPClient,
         clock: any EngineClock, directory: LimiterDirectory) {
        self.id = id
        self.http = http
        self.clock = clock
        self.directory = directory
        let set = providers ?? ProviderSet.fromEnvironment(environment)
        configuration = Locked(Configuration(
            environment: environment, providers: set, clients: Self.clients(for: set, http: http, clock: clock),
            limiters: LimiterTable(set, directory: directory, session: id)))
    }

    private static func clients(for set: ProviderSet, http: HTTPClient, clock: any EngineClock) -> [String: any ProviderClient] {
        set.providers.mapValues { makeProviderClient($0, http: http, clock: clock) }
    }

    /// Adds or replaces providers (`configure` / `initialize.providers`); `api_key_env` names are
    /// read from the session's environment, after adding `environment` to it (`configure`'s, so
    /// a shared sidecar's host can name a variable it did not send at `initialize`). Batches
    /// already running keep the providers they started with.
    ///
    /// - Returns: warnings for the host (providers added without an API key).
    @discardableResult
    public func configure(providers: JSONValue?, defaultProvider: String?,
                          environment added: [String: String] = [:]) throws(ConfigError) -> [String] {
        var (set, environment) = configuration.withLock { ($0.providers, $0.environment) }
        environment.merge(added) { $1 }
        let warnings = try set.merge(providers, defaultProvider: defaultProvider, environment: environment)
        replace(set, environment: environment)
        return warnings
    }

    /// Starts over from `providers` read in `environment` (`initialize.environment`: the host's
    /// own, so a shared sidecar uses each host's keys).
    public func reset(environment: [String: String], providers: ProviderSet) {
        replace(providers, environment: environment)
    }

    private func replace(_ set: ProviderSet, environment: [String: String]) {
        let clients = Self.clients(for: set, http: http, clock: clock)
        let limiters = configuration.withLock { configuration in
            configuration = Configuration(
                environment: environment, providers: set, clients: clients,
                limiters: LimiterTable(set, previous: configuration.limiters, directory: directory, session: id))
            return configuration.limiters
        }
        // A host that configures counts towards the shared limits from now on (one that never
        // does, from its first item).
        limiters.register()
    }

    /// The configured providers, for `initialize` and `stats` (never includes keys).
    public var providerSet: ProviderSet {
        configuration.withLock { $0.providers }
    }

    /// Each configured provider's `budget` and what its account has spent, by provider (for
    /// `stats.providers`).
    func budgets(now: Double) -> [String: JSONObject] {
        let (set, limiters) = configuration.withLock { ($0.providers, $0.limiters) }
        var budgets: [String: JSONObject] = [:]
        for config in set.providers.values {
            guard let budget = config.budget else { continue }
            let spent = limiters.budget(for: config).snapshot(now: now)
            budgets[config.name] = [
                "max_cost_usd": .number(JSONNumber(budget.maxCostUSD) ?? 0),
                "per": .string(budget.per.rawValue),
                "spent_usd": .number(JSONNumber(Outcome.dollars(budget.per == .day ? spent.day : spent.lifetime)) ?? 0),
                "reserved_usd": .number(JSONNumber(Outcome.dollars(spent.reserved)) ?? 0),
            ]
        }
        return budgets
    }

    /// Items of this session accepted by `Engine.run` that have no outcome yet.
    public var itemsPending: Int { queuedItems.load(ordering: .relaxed) }

    /// Validates `requests` and binds each item to its provider. Malformed items become
    /// `invalid_request` outcomes later; an unknown or missing provider rejects the batch.
    public func prepare(_ requests: [JSONValue]) -> Result<[PreparedItem], BatchRejection> {
        let (set, clients, limiters) = configuration.withLock { ($0.providers, $0.clients, $0.limiters) }
        var prepared: [PreparedItem] = []
        prepared.reserveCapacity(requests.count)
        for (index, value) in requests.enumerated() {
            switch Item.parse(value) {
            case .failure(let error):
                prepared.append(PreparedItem(index: index, key: Item.key(of: value), work: .failure(error)))
            case .success(let item):
                switch set.resolve(item.provider) {
                case .failure(let error):
                    return .failure(BatchRejection(index: index, message: "requests[\(index)]: \(error.message)"))
                case .success(let config):
                    guard let client = clients[config.name] else {
                        return .failure(BatchRejection(index: index, message: "requests[\(index)]: provider \(config.name) is not ready"))
                    }
                    if let refusal = config.refusal(of: item.endpoint) {
                        prepared.append(PreparedItem(index: index, key: item.key, work: .failure(ItemError(.invalidRequest, refusal))))
                        continue
                    }
                    let limiter = limiters.assignment(for: config, model: item.model)
                    prepared.append(PreparedItem(index: index, key: item.key,
                                                 work: .success(.init(item: item, client: client, limiter: limiter))))
                }
            }
        }
        return .success(prepared)
    }

    /// Withdraws what this session wanted of the shared limiters (its host is gone).
    func close() {
        directory.withdraw(session: id)
    }
}
