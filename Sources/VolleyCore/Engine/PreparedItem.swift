/// One element of a batch's `requests`, validated and bound to its provider.
public struct PreparedItem: Sendable {
    public var index: Int
    public var key: String?
    /// The item and the client that runs it, or why the item is malformed.
    var work: Result<Work, ItemError>

    /// The provider the item is bound to, if it is well formed.
    public var provider: String? {
        if case .success(let work) = work { return work.client.config.name }
        return nil
    }

    struct Work: Sendable {
        var item: Item
        var client: any ProviderClient
        /// Its limiter (from the configuration's `LimiterTable`).
        var limiter: LimiterAssignment
    }
}

/// A batch that cannot run at all (answered with -32602).
public struct BatchRejection: Error, Sendable {
    public var index: Int
    public var message: String
}
