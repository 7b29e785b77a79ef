extension ProviderConfig {
    /// Parses one entry of a `providers` object. `environment` resolves `api_key_env`.
    public static func parse(name: String, _ value: JSONValue, environment: [String: String]) throws(ConfigError) -> ProviderConfig {
        guard case .object(let object) = value else {
            throw ConfigError("providers.\(name) must be an object")
        }
        let path = "providers.\(name)"
        let known: Set<String> = ["kind", "base_url", "api_key_env", "api_key", "limits", "retry", "timeouts",
                                  "headers", "ca_file", "models", "latency_ms", "api_key_header", "query", "budget"]
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw ConfigError("\(path).\(unknown) is not a known setting")
        }
        let kindName = try string(object["kind"], "\(path).kind") ?? name
        guard let kind = ProviderKind(rawValue: kindName) else {
            throw ConfigError("\(path).kind must be one of openai, anthropic, mock (got \"\(kindName)\")")
        }
        // Without `base_url`, the kind's `OPENAI_BASE_URL` / `ANTHROPIC_BASE_URL` applies.
        var config = ProviderConfig(name: name, kind: kind, environment: environment)
        if let baseURL = try string(object["base_url"], "\(path).base_url") {
            guard kind == .mock || baseURL.hasPrefix("http://") || baseURL.hasPrefix("https://") else {
                throw ConfigError("\(path).base_url must start with http:// or https://")
            }
            config.baseURL = trimmingTrailingSlash(baseURL)
        }
        // A key is checked before it can reach a header; an unusable one is refused by name,
        // never shown.
        func usable(_ key: String?, from source: String) throws(ConfigError) -> String? {
            guard let key, !key.allSatisfy(\.isWhitespace) else { return nil }
            guard let safe = headerSafeKey(key) else {
                throw ConfigError("\(path): the API key in \(source) has a control character (a line break?) inside it, "
                                  + "which cannot go in a header")
            }
            return safe
        }
        if let env = try string(object["api_key_env"], "\(path).api_key_env") {
            config.apiKeyEnv = env
            config.apiKey = try usable(environment[env], from: env)
        }
        if config.apiKey == nil, let key = try string(object["api_key"], "\(path).api_key") {
            config.apiKey = try usable(key, from: "\(path).api_key")
        }
        if config.apiKey == nil, config.apiKeyEnv == nil, kind != .mock {
            // The conventional variable, as the official SDKs do.
            let env = kind == .openai ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY"
            config.apiKeyEnv = env
            config.apiKey = try usable(environment[env], from: env)
        }
        if let limits = object["limits"], !limits.isNull {
            let parsed = try parseLimits(limits, "\(path).limits")
            config.configuredLimits = parsed
            config.limits = config.limits.overridden(by: parsed)
        }
        if let retry = object["retry"], !retry.isNull {
            guard case .object(let r) = retry else { throw ConfigError("\(path).retry must be an object") }
            if let v = try int(r["max_retries"], "\(path).retry.max_retries", range: 0...100) { config.retry.maxRetries = v }
            if let v = try seconds(r["initial_delay"], "\(path).retry.initial_delay") { config.retry.initialDelaySeconds = v }
            if let v = try seconds(r["max_delay"], "\(path).retry.max_delay") { config.retry.maxDelaySeconds = v }
            if let v = try seconds(r["max_retry_after"], "\(path).retry.max_retry_after") { config.retry.maxRetryAfterSeconds = v }
            if let v = try seconds(r["max_wait"], "\(path).retry.max_wait") { config.retry.maxWaitSeconds = v }
            let knownRetry: Set<String> = ["max_retries", "initial_delay", "max_delay", "max_retry_after", "max_wait"]
            if let unknown = r.keys.first(where: { !knownRetry.contains($0) }) {
                throw ConfigError("\(path).retry.\(unknown) is not a known setting (\(knownRetry.sorted().joined(separator: ", ")))")
            }
        }
        if let timeouts = object["timeouts"], !timeouts.isNull {
            guard case .object(let t) = timeouts else { throw ConfigError("\(path).timeouts must be an object") }
            if let v = try seconds(t["connect"], "\(path).timeouts.connect", positive: true) { config.connectTimeoutSeconds = v }
            if let v = try seconds(t["request"], "\(path).timeouts.request", positive: true) { config.requestTimeoutSeconds = v }
            if let v = try seconds(t["stream_idle"], "\(path).timeouts.stream_idle", positive: true) { config.streamIdleSeconds = v }
        }
        if let headers = object["headers"], !headers.isNull {
            guard case .object(let h) = headers else { throw ConfigError("\(path).headers must be an object of strings") }
            for (name, value) in h {
                guard let text = value.stringValue, !name.contains(where: { $0 == "\r" || $0 == "\n" || $0 == ":" }),
                      !text.contains(where: { $0 == "\r" || $0 == "\n" }) else {
                    throw ConfigError("\(path).headers.\(name) must be a single-line string")
                }
                config.headers.append((name, text))
            }
        }
        if let header = try string(object["api_key_header"], "\(path).api_key_header") {
            guard !header.isEmpty, header.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw ConfigError("\(path).api_key_header must be a header name (letters, digits, - and _)")
            }
            config.apiKeyHeader = header.lowercased()
        }
        if let query = object["query"], !query.isNull {
            guard case .object(let q) = query else { throw ConfigError("\(path).query must be an object of strings") }
            for (name, value) in q.sorted(by: { $0.key < $1.key }) {
                guard let text = value.stringValue else { throw ConfigError("\(path).query.\(name) must be a string") }
                config.query.append((name, text))
            }
        }
        config.caFile = try string(object["ca_file"], "\(path).ca_file")
        if let models = object["models"], !models.isNull {
            guard case .object(let m) = models else { throw ConfigError("\(path).models must be an object") }
            for (model, settings) in m {
                guard case .object(let s) = settings else { throw ConfigError("\(path).models.\(model) must be an object") }
                if let unknown = s.keys.sorted().first(where: { $0 != "limits" && $0 != "price" }) {
                    throw ConfigError("\(path).models.\(model).\(unknown) is not a known setting (limits, price)")
                }
                if let limits = s["limits"] {
                    config.modelLimits[model] = try parseLimits(limits, "\(path).models.\(model).limits")
                }
                if let price = s["price"], !price.isNull {
                    config.modelPrices.models[model] = try ModelPrice(json: price, path: "\(path).models.\(model).price")
                }
            }
        }
        if let budget = object["budget"], !budget.isNull {
            config.budget = try parseBudget(budget, "\(path).budget")
        }
        if let latency = try seconds(object["latency_ms"], "\(path).latency_ms") {
            config.mockLatencyMs = latency
        }
        return config
    }

    /// `{"max_cost_usd": 25, "per": "day"}` (`per`: `lifetime`, the default, or `day`).
    private static func parseBudget(_ value: JSONValue, _ path: String) throws(ConfigError) -> ProviderBudget {
        guard case .object(let b) = value else { throw ConfigError("\(path) must be an object {max_cost_usd, per}") }
        if let unknown = b.keys.sorted().first(where: { $0 != "max_cost_usd" && $0 != "per" }) {
            throw ConfigError("\(path).\(unknown) is not a known setting (max_cost_usd, per)")
        }
        guard let given = b["max_cost_usd"], !given.isNull else {
            throw ConfigError("\(path).max_cost_usd is required (dollars the key may spend)")
        }
        guard let dollars = given.doubleValue, dollars >= 0, dollars.isFinite else {
            throw ConfigError("\(path).max_cost_usd must be a number of dollars, 0 or more")
        }
        var per = ProviderBudget.Period.lifetime
        if let name = try string(b["per"], "\(path).per") {
            guard let period = ProviderBudget.Period(rawValue: name) else {
                throw ConfigError("\(path).per must be lifetime or day (got \"\(name)\")")
            }
            per = period
        }
        return ProviderBudget(maxCostUSD: dollars, per: per)
    }

    private static func parseLimits(_ value: JSONValue, _ path: String) throws(ConfigError) -> ProviderLimits {
        guard case .object(let l) = value else { throw ConfigError("\(path) must be an object") }
        let known = ["concurrency", "rpm", "tpm", "itpm", "otpm", "burst", "token_burst", "adaptive"]
        if let unknown = l.keys.first(where: { !known.contains($0) }) {
            throw ConfigError("\(path).\(unknown) is not a known limit (\(known.joined(separator: ", ")))")
        }
        var adaptive: Bool?
        if let value = l["adaptive"], !value.isNull {
            guard let flag = value.boolValue else { throw ConfigError("\(path).adaptive must be true or false") }
            adaptive = flag
        }
        return ProviderLimits(
            concurrency: try int(l["concurrency"], "\(path).concurrency", range: 1...100_000),
            rpm: try int(l["rpm"], "\(path).rpm", range: 1...100_000_000),
            tpm: try int(l["tpm"], "\(path).tpm", range: 1...10_000_000_000),
            itpm: try int(l["itpm"], "\(path).itpm", range: 1...10_000_000_000),
            otpm: try int(l["otpm"], "\(path).otpm", range: 1...10_000_000_000),
            burst: try int(l["burst"], "\(path).burst", range: 1...100_000_000),
            tokenBurst: try int(l["token_burst"], "\(path).token_burst", range: 1...10_000_000_000),
            adaptive: adaptive
        )
    }

    private static func string(_ value: JSONValue?, _ path: String) throws(ConfigError) -> String? {
        guard let value, !value.isNull else { return nil }
        guard let text = value.stringValue else { throw ConfigError("\(path) must be a string") }
        return text
    }

    private static func int(_ value: JSONValue?, _ path: String, range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let value, !value.isNull else { return nil }
        guard let number = value.intValue, range.contains(number) else {
            throw ConfigError("\(path) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    private static func seconds(_ value: JSONValue?, _ path: String, positive: Bool = false) throws(ConfigError) -> Double? {
        guard let value, !value.isNull else { return nil }
        guard let number = value.doubleValue, number.isFinite, positive ? number > 0 : number >= 0 else {
            throw ConfigError("\(path) must be a \(positive ? "positive" : "non-negative") number")
        }
        return number
    }
}
