/// The configured providers and which one items use when they name none.
public struct ProviderSet: Sendable {
    public private(set) var providers: [String: ProviderConfig]
    /// Set explicitly by `default_provider`, else derived (see `defaultName`).
    public private(set) var explicitDefault: String?

    public init(providers: [String: ProviderConfig] = [:], defaultProvider: String? = nil) {
        self.providers = providers
        self.explicitDefault = defaultProvider
        ensureMock()
    }

    /// With no configuration: `mock` always (by name only); `openai` when `OPENAI_API_KEY` is
    /// set; `anthropic` when `ANTHROPIC_API_KEY` is set. Each at `OPENAI_BASE_URL` /
    /// `ANTHROPIC_BASE_URL` when set (a base URL alone adds no provider: there is no key).
    public static func fromEnvironment(_ environment: [String: String]) -> ProviderSet {
        var set = ProviderSet()
        for (name, env) in keyVariables {
            guard let key = environment[env], !key.isEmpty, let kind = ProviderKind(rawValue: name) else { continue }
            var config = ProviderConfig(name: name, kind: kind, environment: environment)
            config.apiKeyEnv = env
            // A key that would split its header is not used (keyWarnings says so).
            config.apiKey = ProviderConfig.headerSafeKey(key)
            config.apiKeyRefused = config.apiKey == nil
            set.providers[name] = config
        }
        return set
    }

    /// Adds or replaces the providers in `value` (an object of name → settings) and, when
    /// given, sets the default. Providers not named are kept. Nothing changes on error.
    ///
    /// The default never changes behind the caller's back: when the call sets none, the
    /// default in force before it stays (adding a second provider used to leave items that
    /// name none without a default).
    ///
    /// - Returns: warnings for the caller to show, one per provider added without an API key.
    @discardableResult
    public mutating func merge(_ value: JSONValue?, defaultProvider: String?, environment: [String: String]) throws(ConfigError) -> [String] {
        var updated = providers
        var warnings: [String] = []
        if let value, !value.isNull {
            guard case .object(let object) = value else { throw ConfigError("providers must be an object") }
            for (name, settings) in object {
                guard !name.isEmpty else { throw ConfigError("provider names must not be empty") }
                let config = try ProviderConfig.parse(name: name, settings, environment: environment)
                if let warning = Self.keyWarning(config) { warnings.append(warning) }
                updated[name] = config
            }
        }
        if let defaultProvider, updated[defaultProvider] == nil {
            throw ConfigError("default_provider \"\(defaultProvider)\" is not a configured provider")
        }
        let previousDefault = defaultName
        providers = updated
        if let defaultProvider {
            explicitDefault = defaultProvider
        } else if explicitDefault == nil, let previousDefault, updated[previousDefault] != nil {
            explicitDefault = previousDefault
        }
        ensureMock()
        return warnings.sorted()
    }

    /// One warning per configured provider that calls an API without a key (for a `--config`
    /// file, shown at start-up; `merge` returns those of the providers it adds).
    public var keyWarnings: [String] {
        providers.values.compactMap(Self.keyWarning).sorted()
    }

    private static func keyWarning(_ config: ProviderConfig) -> String? {
        guard config.kind != .mock, config.apiKey == nil else { return nil }
        let unset = config.apiKeyRefused ? "holds a control character inside the key, which cannot go in a header" : "is not set in volley's environment"
        let source = config.apiKeyEnv.map { "\($0) \(unset)" } ?? "no api_key or api_key_env"
        return "provider \"\(config.name)\" has no API key (\(source)): its requests go out without one"
    }

    /// The provider items use when they name none: `default_provider` if set; else the only
    /// provider configured besides the built-in `mock`; else none. The mock is never a silent
    /// fallback: an item goes to it only when it names it or `default_provider` does, so a
    /// missing key is an error, not a fake answer.
    public var defaultName: String? {
        if let explicitDefault { return explicitDefault }
        let real = realProviderNames
        return real.count == 1 ? real.first : nil
    }

    /// Configured providers other than the built-in mock.
    private var realProviderNames: [String] {
        providers.keys.filter { $0 != "mock" || providers[$0]?.kind != .mock }.sorted()
    }

    /// The environment variables the built-in providers take their keys from.
    static let keyVariables: [(provider: String, variable: String)] = [
        ("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY"),
    ]

    /// The provider an item uses.
    public func resolve(_ name: String?) -> Result<ProviderConfig, ConfigError> {
        // Built only on the failure paths: prepare resolves every item of a batch.
        var configured: String { providers.keys.sorted().joined(separator: ", ") }
        if let name {
            if let config = providers[name] { return .success(config) }
            if let variable = Self.keyVariables.first(where: { $0.provider == name })?.variable {
                return .failure(ConfigError(
                    "provider \"\(name)\" is not configured: \(variable) is not set in volley's environment (set it, or configure \"\(name)\" with api_key_env; configured: \(configured))"))
            }
            return .failure(ConfigError("unknown provider \"\(name)\"; configured: \(configured)"))
        }
        if let fallback = defaultName, let config = providers[fallback] { return .success(config) }
        if realProviderNames.isEmpty {
            let variables = Self.keyVariables.map(\.variable).joined(separator: " or ")
            return .failure(ConfigError(
                "the item names no provider and no real provider is configured: set \(variables) in volley's environment, configure a provider, or name \"provider\": \"mock\" for the built-in mock"))
        }
        return .failure(ConfigError(
            "the item names no provider and there is no default; set `provider` on the item or `default_provider` (configured: \(configured))"))
    }

    /// The built-in mock stays available unless a provider named "mock" replaces it.
    private mutating func ensureMock() {
        if providers["mock"] == nil { providers["mock"] = ProviderConfig(name: "mock", kind: .mock) }
    }
}

extension ProviderSet {
    /// A `--config` file's providers: `{"providers": {...}, "default_provider": "..."}`. The
    /// built-in `mock` is added; the environment's defaults are not (the file is the whole
    /// configuration). Used by `volley serve` and `volley run` alike.
    public init(configFile bytes: [UInt8], environment: [String: String]) throws(ConfigError) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw ConfigError("invalid JSON: \(error.message)")
        }
        guard case .object(let object) = value else { throw ConfigError("the file must hold a JSON object") }
        if let unknown = object.keys.first(where: { !["providers", "default_provider", "shared_limits"].contains($0) }) {
            throw ConfigError("unknown top-level field `\(unknown)` (expected providers, default_provider, shared_limits)")
        }
        var defaultProvider: String?
        if let value = object["default_provider"], !value.isNull {
            guard let name = value.stringValue else { throw ConfigError("default_provider must be a string") }
            defaultProvider = name
        }
        self.init()
        try merge(object["providers"], defaultProvider: defaultProvider, environment: environment)
    }
}
