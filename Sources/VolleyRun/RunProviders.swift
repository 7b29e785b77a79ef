import Foundation
import VolleyCore

/// The providers a run uses: `--config` (or the environment), then the flags on top.
enum RunProviders {
    /// Reads `--config` the way `serve` does (a copy of `Serve.loadConfig` in the `volley`
    /// target, which is private there), then applies `--provider`, `--rpm`, `--tpm`,
    /// `--concurrency` and `--max-retries`.
    static func build(_ options: RunOptions, environment: [String: String]) throws(RunSetupError) -> ProviderSet {
        var set: ProviderSet
        if let path = options.configPath {
            set = try loadConfig(path: path, environment: environment)
        } else {
            set = ProviderSet.fromEnvironment(environment)
        }
        if let name = options.provider, set.providers[name] == nil {
            throw RunSetupError(
                "--provider \(name): no such provider; configured: \(set.providers.keys.sorted().joined(separator: ", "))")
        }
        return ProviderSet(
            providers: set.providers.mapValues { applyOverrides(options, to: $0) },
            defaultProvider: options.provider ?? set.explicitDefault)
    }

    /// Flags win over the file: the provider's limits and every model's own limits lose the
    /// fields the flags set.
    static func applyOverrides(_ options: RunOptions, to provider: ProviderConfig) -> ProviderConfig {
        var config = provider
        let flags = ProviderLimits(concurrency: options.concurrency, rpm: options.rpm, tpm: options.tpm)
        config.limits = config.limits.overridden(by: flags)
        config.modelLimits = config.modelLimits.mapValues { own in
            ProviderLimits(
                concurrency: flags.concurrency == nil ? own.concurrency : nil,
                rpm: flags.rpm == nil ? own.rpm : nil,
                tpm: flags.tpm == nil ? own.tpm : nil)
        }
        if let maxRetries = options.maxRetries { config.retry.maxRetries = maxRetries }
        return config
    }

    private static func loadConfig(path: String, environment: [String: String]) throws(RunSetupError) -> ProviderSet {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw RunSetupError("--config \(path): cannot read: \(error.localizedDescription)")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(Array(data))
        } catch {
            throw RunSetupError("--config \(path): invalid JSON: \(error.message)")
        }
        guard case .object(let object) = value else {
            throw RunSetupError("--config \(path): the file must hold a JSON object")
        }
        if let unknown = object.keys.first(where: { $0 != "providers" && $0 != "default_provider" }) {
            throw RunSetupError("--config \(path): unknown top-level field `\(unknown)` (expected providers, default_provider)")
        }
        var set = ProviderSet()
        do {
            try set.merge(object["providers"], defaultProvider: object["default_provider"]?.stringValue, environment: environment)
        } catch {
            throw RunSetupError("--config \(path): \(error.message)")
        }
        return set
    }
}
