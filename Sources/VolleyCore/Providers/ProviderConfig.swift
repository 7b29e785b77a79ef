/// Limits that apply to one provider, or to one model of it.
public struct ProviderLimits: Sendable, Hashable {
    /// Most calls in flight at once.
    public var concurrency: Int?
    /// Requests per minute.
    public var rpm: Int?
    /// Tokens per minute (input estimate + `max_tokens`, reconciled with usage).
    public var tpm: Int?
    /// Input tokens per minute, for providers with a separate input budget (Anthropic's ITPM).
    public var itpm: Int?
    /// Output tokens per minute (Anthropic's OTPM), reserved as `max_tokens`.
    public var otpm: Int?
    /// Requests allowed back to back after idle (default: 20 ms worth of `rpm`, at least 1).
    public var burst: Int?
    /// Tokens a token bucket holds (default: a minute's budget).
    public var tokenBurst: Int?
    /// Whether rate and concurrency adapt to the server's refusals (default: true).
    public var adaptive: Bool?

    public init(concurrency: Int? = nil, rpm: Int? = nil, tpm: Int? = nil, itpm: Int? = nil, otpm: Int? = nil,
                burst: Int? = nil, tokenBurst: Int? = nil, adaptive: Bool? = nil) {
        self.concurrency = concurrency
        self.rpm = rpm
        self.tpm = tpm
        self.itpm = itpm
        self.otpm = otpm
        self.burst = burst
        self.tokenBurst = tokenBurst
        self.adaptive = adaptive
    }

    /// `other`'s values where set, else ours.
    public func overridden(by other: ProviderLimits) -> ProviderLimits {
        ProviderLimits(concurrency: other.concurrency ?? concurrency, rpm: other.rpm ?? rpm, tpm: other.tpm ?? tpm,
                       itpm: other.itpm ?? itpm, otpm: other.otpm ?? otpm, burst: other.burst ?? burst,
                       tokenBurst: other.tokenBurst ?? tokenBurst, adaptive: other.adaptive ?? adaptive)
    }
}

/// How failed calls are retried.
public struct RetrySettings: Sendable, Hashable {
    public var maxRetries: Int
    /// Seconds before the first retry (doubled each time, with jitter).
    public var initialDelaySeconds: Double
    /// Cap on one backoff delay, in seconds.
    public var maxDelaySeconds: Double
    /// A server's `retry-after` is obeyed up to this many seconds; longer ones fall back to
    /// backoff (and the limiter's cooldown is capped at it).
    public var maxRetryAfterSeconds: Double
    /// Seconds an item may spend in total waiting on its limiter (queue, rate, cooldown) and
    /// in backoff after 429s; nil: no limit but its deadline.
    public var maxWaitSeconds: Double?

    public init(maxRetries: Int = 2, initialDelaySeconds: Double = 0.5, maxDelaySeconds: Double = 8, maxRetryAfterSeconds: Double = 120,
                maxWaitSeconds: Double? = nil) {
        self.maxRetries = maxRetries
        self.initialDelaySeconds = initialDelaySeconds
        self.maxDelaySeconds = maxDelaySeconds
        self.maxRetryAfterSeconds = maxRetryAfterSeconds
        self.maxWaitSeconds = maxWaitSeconds
    }
}

/// A provider's dollar budget (`budget`): what its API key may spend through this sidecar, over
/// the sidecar's lifetime or any rolling day.
public struct ProviderBudget: Sendable, Hashable {
    public enum Period: String, Sendable, Hashable, CaseIterable {
        /// Everything spent since the sidecar started.
        case lifetime
        /// What was spent in the last 24 hours (kept in Redis, for every sidecar on the key,
        /// when shared limits are configured).
        case day
    }

    public var maxCostUSD: Double
    public var per: Period

    public init(maxCostUSD: Double, per: Period = .lifetime) {
        self.maxCostUSD = maxCostUSD
        self.per = per
    }
}

/// One configured provider.
public struct ProviderConfig: Sendable {
    public var name: String
    public var kind: ProviderKind
    public var baseURL: String
    /// The API key, resolved from `api_key_env` or `api_key`. Never printed.
    public var apiKey: String?
    /// The environment variable the key came from (safe to show).
    public var apiKeyEnv: String?
    /// Its variable held a key that cannot be sent (a control character inside it).
    public var apiKeyRefused = false
    public var limits: ProviderLimits
    public var modelLimits: [String: ProviderLimits]
    public var retry: RetrySettings
    public var connectTimeoutSeconds: Double
    /// Limit for one HTTP attempt, in seconds.
    public var requestTimeoutSeconds: Double
    /// Longest silence of a streamed answer, in seconds (`timeouts.stream_idle`).
    public var streamIdleSeconds: Double
    public var headers: [(String, String)]
    /// The header the key goes in, as it is (`api-key` for Azure OpenAI); nil for the kind's
    /// own (`authorization: Bearer` for openai, `x-api-key` for anthropic).
    public var apiKeyHeader: String?
    /// The price of `model` on this provider: its own `models.<name>.price`, else `pricing`'s;
    /// 0 on the mock; nil when nobody priced it.
    public func price(of model: String?, pricing: Pricing) -> ModelPrice? {
        if kind == .mock { return ModelPrice(input: 0, output: 0) }
        return pricing.price(of: model, own: modelPrices)
    }

    /// Prices of this provider's models (`models.<name>.price`), before the shipped table's.
    public var modelPrices = Pricing()
    /// What its key may spend (`budget`); nil: no limit but each batch's `max_cost_usd`.
    public var budget: ProviderBudget?
    /// Query parameters of every request (`api-version` for Azure OpenAI), in order.
    public var query: [(String, String)]
    public var caFile: String?
    /// Mock only: milliseconds before each reply.
    public var mockLatencyMs: Double

    /// A provider of `kind` with every default; `environment` supplies the default base URL
    /// (see `defaultBaseURL`).
    public init(name: String, kind: ProviderKind, environment: [String: String] = [:]) {
        self.name = name
        self.kind = kind
        self.baseURL = Self.defaultBaseURL(kind, environment: environment)
        self.apiKey = nil
        self.apiKeyEnv = nil
        self.limits = Self.defaultLimits(kind)
        self.modelLimits = [:]
        self.retry = RetrySettings()
        self.connectTimeoutSeconds = 10
        self.requestTimeoutSeconds = 600
        self.streamIdleSeconds = 60
        self.headers = []
        self.apiKeyHeader = nil
        self.query = []
        self.caFile = nil
        self.mockLatencyMs = 50
    }

    /// The limits the configuration set (no defaults), provider-wide; used to tell a known
    /// limit from an unknown one.
    public var configuredLimits = ProviderLimits()

    /// The limits in force for `model`: the provider's, overridden by the model's own.
    public func limits(for model: String?) -> ProviderLimits {
        guard let model, let own = modelLimits[model] else { return limits }
        return limits.overridden(by: own)
    }

    /// Whether the configuration states a rate or a concurrency for `model`: when neither is,
    /// the limit is unknown and the limiter slow-starts.
    public func configuresRateOrConcurrency(for model: String?) -> Bool {
        let own = model.flatMap { modelLimits[$0] } ?? ProviderLimits()
        return configuredLimits.rpm != nil || configuredLimits.concurrency != nil || own.rpm != nil || own.concurrency != nil
    }

    /// The base URL a provider of `kind` gets when it sets no `base_url`: the kind's variable
    /// (`OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL`) when set in `environment`, as the official
    /// SDKs read it; else the vendor's API in each SDK's own form (OpenAI's with `/v1`,
    /// Anthropic's without).
    static func defaultBaseURL(_ kind: ProviderKind, environment: [String: String] = [:]) -> String {
        if let variable = baseURLVariable(kind), let value = environment[variable], !value.isEmpty {
            return trimmingTrailingSlash(value)
        }
        switch kind {
        case .openai: return "https://api.openai.com/v1"
        case .anthropic: return "https://api.anthropic.com"
        case .mock: return "mock://"
        }
    }

    /// The environment variable the official SDK of `kind` reads its base URL from.
    static func baseURLVariable(_ kind: ProviderKind) -> String? {
        switch kind {
        case .openai: return "OPENAI_BASE_URL"
        case .anthropic: return "ANTHROPIC_BASE_URL"
        case .mock: return nil
        }
    }

    /// `key` as it can go in a header: surrounding whitespace trimmed (a key read from a file
    /// with CRLF line ends keeps its `\r`); nil when empty, or when a control character is left
    /// inside it, which would split the header it is sent in.
    static func headerSafeKey(_ key: String) -> String? {
        var scalars = Substring(key).unicodeScalars[...]
        while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        guard !scalars.isEmpty, !scalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return nil }
        return String(String.UnicodeScalarView(scalars))
    }

    static func trimmingTrailingSlash(_ url: String) -> String {
        var url = Substring(url)
        while url.hasSuffix("/") { url = url.dropLast() }
        return String(url)
    }

    /// The URL requests are POSTed to. OpenAI's SDK puts `/v1` in the base URL and appends
    /// `/chat/completions`; so do we. Anthropic's SDK (and `ANTHROPIC_BASE_URL`) leaves `/v1`
    /// out and appends `/v1/messages`; so do we, except that a base URL whose path already ends
    /// in `/v1` (Volley's own former default and form) gets only `/messages`, so either form of
    /// the same server works.
    public var endpointURL: String {
        switch kind {
        case .openai: return withQuery(baseURL + "/chat/completions")
        case .anthropic: return withQuery(baseURL + (Self.pathEndsInV1(baseURL) ? "/messages" : "/v1/messages"))
        case .mock: return baseURL
        }
    }

    /// `url` with the provider's `query` appended (percent-encoded).
    func withQuery(_ url: String) -> String {
        guard !query.isEmpty else { return url }
        func encoded(_ text: String) -> String {
            var out = ""
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                     UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                    out.unicodeScalars.append(Unicode.Scalar(byte))
                default:
                    let hex = Array("0123456789ABCDEF".unicodeScalars)
                    out += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 15)])
                }
            }
            return out
        }
        let parameters = query.map { encoded($0.0) + "=" + encoded($0.1) }.joined(separator: "&")
        return url + (url.contains("?") ? "&" : "?") + parameters
    }

    /// The URL an item calling `endpoint` is POSTed to. A raw path is joined to the base URL,
    /// once: `/v1/moderations` under a base ending in `/v1` is `{base}/moderations`.
    public func url(for endpoint: Item.Endpoint) -> String {
        switch (kind, endpoint) {
        case (_, .chat), (_, .messages): return endpointURL
        case (.openai, .embeddings): return withQuery(baseURL + "/embeddings")
        case (.openai, .responses): return withQuery(baseURL + "/responses")
        case (.openai, .completions): return withQuery(baseURL + "/completions")
        case (_, .raw(let path)):
            if Self.pathEndsInV1(baseURL), path.hasPrefix("/v1/") { return withQuery(baseURL + path.dropFirst(3)) }
            return withQuery(baseURL + path)
        default: return endpointURL
        }
    }

    /// Whether `kind` serves `endpoint`; nil when it does, else why not.
    public func refusal(of endpoint: Item.Endpoint) -> String? {
        switch (kind, endpoint) {
        case (_, .chat), (.mock, _), (_, .raw): return nil
        case (.openai, .embeddings), (.openai, .responses), (.openai, .completions), (.anthropic, .messages): return nil
        case (.openai, .messages): return "`endpoint: messages` is Anthropic's; provider \(name) is openai (use chat)"
        case (.anthropic, _):
            return "provider \(name) is anthropic, which has no \(endpoint.name) endpoint (chat, messages, or a raw `path`)"
        default: return nil
        }
    }

    /// Whether the path of `url` (after `scheme://host`) ends in `/v1`; the host alone never
    /// counts (`https://v1` has no path).
    static func pathEndsInV1(_ url: String) -> Bool {
        guard let scheme = url.firstRange(of: "://") else { return url.hasSuffix("/v1") }
        let rest = url[scheme.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return false }
        var path = rest[slash...]
        if let query = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<query] }
        return path.hasSuffix("/v1")
    }

    /// Only concurrency by default: accounts' rate limits differ by tier (OpenAI's range over
    /// 20x), so a fixed RPM would either throttle most users or not protect any. Without a
    /// configured `rpm`/`tpm`, the limiter learns them from the provider's rate-limit headers.
    static func defaultLimits(_ kind: ProviderKind) -> ProviderLimits {
        switch kind {
        case .openai: return ProviderLimits(concurrency: 64)
        case .anthropic: return ProviderLimits(concurrency: 32)
        case .mock: return ProviderLimits(concurrency: 1024)
        }
    }
}
