/// The process-wide counters since start (the engine part of `stats`).
public struct EngineCounters: Sendable, Equatable {
    public var batchesActive: Int
    /// Items that succeeded, failed (any error but `cancelled`) and were cancelled.
    public var completed: Int
    public var failed: Int
    public var cancelled: Int
    /// Attempts retried, and attempts answered with a rate-limit refusal.
    public var retries: Int
    public var rateLimited: Int
    /// Item latency percentiles (first attempt to outcome); nil before the first outcome.
    public var latencyP50Ms: Double?
    public var latencyP95Ms: Double?
    public var latencyP99Ms: Double?
    /// Tokens used, by the model the provider reported.
    public var usageByModel: [String: Usage]
    /// Dollars spent by the priced successes, by the model the provider reported, and how many
    /// successes had no price.
    public var costByModel: [String: Double] = [:]
    public var costUnknown = 0
}

/// A reading of the whole engine for the `stats` method and `volley run`'s summary: counters,
/// each limiter's state, the connection pool and the providers (never their keys).
public struct EngineStats: Sendable {
    public var counters: EngineCounters
    /// Connections the pool opened, and transfers that went over one already open.
    public var connectionsOpened: Int
    public var connectionsReused: Int
    public var uptimeSeconds: Double
    var limiters: [String: SchedulerCore.Snapshot]
    var providers: ProviderSet
    /// Whether each limiter lists the sessions using it as `connections` (a shared sidecar).
    public var showsConnections = false
    /// Limits in Redis: "on", or "degraded" while Redis is unreachable; nil when not configured.
    public var shared: String?
    /// Per provider with a `budget`: the budget and what its account spent.
    var budgets: [String: JSONObject] = [:]

    /// The `stats` result (docs/protocol.md, "stats").
    public var json: JSONObject {
        var object = counters.json
        object["in_flight"] = .number(JSONNumber(limiters.values.reduce(0) { $0 + $1.inFlight }))
        object["queued"] = .number(JSONNumber(limiters.values.reduce(0) { $0 + $1.queued }))
        var limiterObjects: JSONObject = [:]
        for name in limiters.keys.sorted() {
            guard let entry = limiters[name] else { continue }
            var limiter = entry.json
            if showsConnections { limiter["connections"] = .array(entry.settings.sessions.map { .number(JSONNumber($0)) }) }
            limiterObjects[name] = .object(limiter)
        }
        object["limiters"] = .object(limiterObjects)
        object["uptime_ms"] = .number(JSONNumber((uptimeSeconds * 1000).rounded()) ?? 0)
        object["connections_opened"] = .number(JSONNumber(connectionsOpened))
        object["connections_reused"] = .number(JSONNumber(connectionsReused))
        var providerObjects = providers.statsJSON
        for (name, budget) in budgets {
            if case .object(var entry)? = providerObjects[name] {
                entry["budget"] = .object(budget)
                providerObjects[name] = .object(entry)
            }
        }
        object["providers"] = .object(providerObjects)
        if let shared { object["shared"] = .string(shared) }
        return object
    }
}

extension EngineCounters {
    var json: JSONObject {
        var usage: JSONObject = [:]
        for model in usageByModel.keys.sorted() {
            usage[model] = usageByModel[model]?.json
        }
        var costs: JSONObject = [:]
        for model in costByModel.keys.sorted() {
            costs[model] = .number(JSONNumber(Outcome.dollars(costByModel[model] ?? 0)) ?? 0)
        }
        func ms(_ value: Double?) -> JSONValue { value.map { .number(JSONNumber($0) ?? 0) } ?? .null }
        return [
            "batches_active": .number(JSONNumber(batchesActive)),
            "completed": .number(JSONNumber(completed)),
            "failed": .number(JSONNumber(failed)),
            "cancelled": .number(JSONNumber(cancelled)),
            "retries": .number(JSONNumber(retries)),
            "rate_limited": .number(JSONNumber(rateLimited)),
            "latency_ms": ["p50": ms(latencyP50Ms), "p95": ms(latencyP95Ms), "p99": ms(latencyP99Ms)],
            "usage": .object(usage),
            "cost_usd": .object(costs),
            "cost_unknown": .number(JSONNumber(costUnknown)),
        ]
    }
}

extension SchedulerCore.Snapshot {
    /// One limiter in `stats.limiters`.
    var json: JSONObject {
        var limiter: JSONObject = [
            "in_flight": .number(JSONNumber(inFlight)),
            "queued": .number(JSONNumber(queued)),
            "concurrency": .number(JSONNumber(settings.concurrency)),
        ]
        if let rpm = settings.rpm { limiter["rpm"] = .number(JSONNumber(rpm)) }
        if let tpm = settings.tpm { limiter["tpm"] = .number(JSONNumber(tpm)) }
        if let itpm = settings.itpm { limiter["itpm"] = .number(JSONNumber(itpm)) }
        if let otpm = settings.otpm { limiter["otpm"] = .number(JSONNumber(otpm)) }
        if let learnedRPM { limiter["rpm_learned"] = .number(JSONNumber(learnedRPM)) }
        if let learnedTPM { limiter["tpm_learned"] = .number(JSONNumber(learnedTPM)) }
        if let requestsAvailable { limiter["requests_available"] = .number(JSONNumber(requestsAvailable)) }
        if let tokensAvailable { limiter["tokens_available"] = .number(JSONNumber(tokensAvailable)) }
        if let effectiveRPM { limiter["rpm_effective"] = .number(JSONNumber((effectiveRPM * 10).rounded() / 10) ?? 0) }
        if let effectiveTPM { limiter["tpm_effective"] = .number(JSONNumber(effectiveTPM.rounded()) ?? 0) }
        limiter["concurrency_effective"] = .number(JSONNumber(effectiveConcurrency))
        limiter["cooldown_ms"] = .number(JSONNumber((cooldownSeconds * 1000).rounded()) ?? 0)
        limiter["providers"] = .array(settings.providers.map(JSONValue.string))
        return limiter
    }
}

extension ProviderSet {
    /// `stats.providers`: each provider's kind, configured limits and where its key comes from.
    var statsJSON: JSONObject {
        var providers: JSONObject = [:]
        for name in self.providers.keys.sorted() {
            guard let config = self.providers[name] else { continue }
            var limits: JSONObject = [:]
            if let c = config.limits.concurrency { limits["concurrency"] = .number(JSONNumber(c)) }
            if let r = config.limits.rpm { limits["rpm"] = .number(JSONNumber(r)) }
            if let t = config.limits.tpm { limits["tpm"] = .number(JSONNumber(t)) }
            var entry: JSONObject = ["kind": .string(config.kind.rawValue), "limits": .object(limits)]
            if config.kind != .mock {
                entry["base_url"] = .string(config.baseURL)
                entry["api_key_env"] = config.apiKeyEnv.map(JSONValue.string) ?? .null
                entry["has_key"] = .bool(config.apiKey != nil)
            }
            providers[name] = .object(entry)
        }
        return providers
    }
}
