import VolleyCore

/// Settings of a `Server` (from the command line).
public struct ServerOptions: Sendable {
    public var maxLineBytes: Int
    public var maxItemsPerBatch: Int
    /// Items waiting or running across all batches beyond which a new batch gets -32011.
    public var maxPendingItems: Int
    public var version: String

    public init(maxLineBytes: Int = 16 * 1024 * 1024, maxItemsPerBatch: Int = 100_000,
                maxPendingItems: Int = 1_000_000, version: String) {
        self.maxLineBytes = maxLineBytes
        self.maxItemsPerBatch = maxItemsPerBatch
        self.maxPendingItems = maxPendingItems
        self.version = version
    }
}
