import VolleyRedis
import VolleySystem

/// Whether a `--config` file holds a secret (an inline `api_key`, a Redis URL with a password)
/// that other users of the machine can read, and what to tell the user then. Keys belong in the
/// environment (`api_key_env`); a file that holds one should be readable by its owner alone.
public enum ConfigSecrets {
    /// The warning for the config file at `path` whose bytes are `bytes`; nil when it holds no
    /// secret or only its owner can read it. Never names the secret.
    public static func exposureWarning(path: String, bytes: [UInt8]) -> String? {
        guard let held = secrets(in: bytes), !held.isEmpty, let mode = filePermissions(atPath: path), mode & 0o044 != 0 else { return nil }
        let octal = String(mode, radix: 8)
        return "\(path) holds \(held.joined(separator: " and ")) and other users can read it (mode \(octal)); "
            + "run `chmod 600 \(path)`, or move the key to the environment (api_key_env)"
    }

    /// What kinds of secret the config holds ("an API key (providers.NAME.api_key)", ...); nil
    /// when it is not JSON.
    static func secrets(in bytes: [UInt8]) -> [String]? {
        guard let json = try? JSONParser.parse(bytes) else { return nil }
        var held: [String] = []
        if case .object(let providers)? = json["providers"] {
            let named = providers.keys.sorted().filter { name in
                guard let key = providers[name]?["api_key"]?.stringValue else { return false }
                return !key.isEmpty
            }
            if !named.isEmpty { held.append("an API key (providers.\(named.joined(separator: ", providers.")).api_key)") }
        }
        if let url = json["shared_limits"]?["redis_url"]?.stringValue, (try? RedisURL(url))?.password != nil {
            held.append("a Redis password (shared_limits.redis_url)")
        }
        return held
    }
}
