/// One element of a batch's `requests`, validated and bound to its provider.
public struct PreparedItem: Sendable {
    public var index: Int
    public var key: String?
    /// The item and the client that runs it, or why the item is malformed: in a box, so that a
    /// batch's array of items stays small (32 bytes an item) and each item's body is freed as
    /// soon as the item is done (`BatchRun` takes every item out of the array as it starts it).
    private let box: Box

    var work: Result<Work, ItemError> { box.work }

    init(index: Int, key: String?, work: Result<Work, ItemError>) {
        self.index = index
        self.key = key
        box = Box(work)
    }

    private init(index: Int, key: String?, box: Box) {
        self.index = index
        self.key = key
        self.box = box
    }

    /// What `BatchRun` leaves in the array in place of an item it has started.
    static func started(_ index: Int) -> PreparedItem {
        PreparedItem(index: index, key: nil, box: Box.started)
    }

    private final class Box: Sendable {
        static let started = Box(.failure(ItemError(.cancelled, "started")))
        let work: Result<Work, ItemError>
        init(_ work: Result<Work, ItemError>) { self.work = work }
    }

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
