import VolleyCore

/// Settings of a `Server` (from the command line).
public struct ServerOptions: Sendable {
    public var maxLineBytes: Int
    public var maxItemsPerBatch: Int
    /// Items waiting or running across all batches beyond which a new batch gets -32011.
    public var maxPendingItems: Int
    public var version: String
    /// The providers a host starts with when `initialize` gives its `environment`: those of
    /// `--config` read in that environment, else the environment's own (as a sidecar spawned
    /// with that environment would start).
    public var providersFor: @Sendable ([String: String]) throws(ConfigError) -> ProviderSet

    public init(maxLineBytes: Int = 16 * 1024 * 1024, maxItemsPerBatch: Int = 100_000,
                maxPendingItems: Int = 1_000_000, version: String,
                providersFor: @escaping @Sendable ([String: String]) throws(ConfigError) -> ProviderSet = {
                    ProviderSet.fromEnvironment($0)
                }) {
        self.maxLineBytes = maxLineBytes
        self.maxItemsPerBatch = maxItemsPerBatch
        self.maxPendingItems = maxPendingItems
        self.version = version
        self.providersFor = providersFor
    }
}
