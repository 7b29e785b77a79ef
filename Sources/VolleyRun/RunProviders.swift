import VolleyCore
import VolleySystem

/// The providers a run uses: `--config` (or the environment), then the flags on top.
enum RunProviders {
    /// Reads `--config` as `serve` does (`ProviderSet(configFile:)`), then applies
    /// `--provider`, `--rpm`, `--tpm`, `--concurrency` and `--max-retries`.
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
    /// fields the flags set, and keep every other (itpm, otpm, burst, token_burst, adaptive).
    static func applyOverrides(_ options: RunOptions, to provider: ProviderConfig) -> ProviderConfig {
        var config = provider
        let flags = ProviderLimits(concurrency: options.concurrency, rpm: options.rpm, tpm: options.tpm)
        config.limits = config.limits.overridden(by: flags)
        // A limit given on the command line is a known limit: no slow start for it.
        config.configuredLimits = config.configuredLimits.overridden(by: flags)
        config.modelLimits = config.modelLimits.mapValues { own in
            var kept = own
            if flags.concurrency != nil { kept.concurrency = nil }
            if flags.rpm != nil { kept.rpm = nil }
            if flags.tpm != nil { kept.tpm = nil }
            return kept
        }
        if let maxRetries = options.maxRetries { config.retry.maxRetries = maxRetries }
        return config
    }

    /// Limits shared in Redis, as `serve` resolves them (nil: local limits).
    static func sharedLimits(_ options: RunOptions, environment: [String: String]) throws(RunSetupError) -> SharedLimitsSettings? {
        var file: [UInt8]?
        if let path = options.configPath {
            do {
                file = try readFile(atPath: path)
            } catch {
                throw RunSetupError("--config \(path): cannot read: \(error)")
            }
        }
        do {
            return try SharedLimitsSettings.resolve(configFile: file, redisURL: options.redisURL, environment: environment)
        } catch {
            throw RunSetupError("shared limits: \(error.message)")
        }
    }

    private static func loadConfig(path: String, environment: [String: String]) throws(RunSetupError) -> ProviderSet {
        let data: [UInt8]
        do {
            data = try readFile(atPath: path)
        } catch {
            throw RunSetupError("--config \(path): cannot read: \(error)")
        }
        if let warning = ConfigSecrets.exposureWarning(path: path, bytes: data) { writeToStandardError("volley run: warning: \(warning)\n") }
        do {
            return try ProviderSet(configFile: data, environment: environment)
        } catch {
            throw RunSetupError("--config \(path): \(error.message)")
        }
    }
}
