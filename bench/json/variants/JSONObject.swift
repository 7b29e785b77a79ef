import OrderedCollections

/// JSONObject backed by swift-collections' `OrderedDictionary`, with the same API and
/// semantics as Sources/VolleyJSON/JSONObject.swift (first position, last value; equality
/// in any order, in JSONObject+Hashable.swift).
public struct JSONObject: Sendable, Sequence {
    /// One member: its key and its value.
    public typealias Element = (key: String, value: JSONValue)

    /// Kept for API parity; `OrderedDictionary` decides by itself when to hash.
    public static let indexThreshold = 16

    private var storage: OrderedDictionary<String, JSONValue>

    /// Creates an empty object.
    public init() {
        storage = [:]
    }

    /// Creates an empty object with room for `minimumCapacity` members.
    public init(minimumCapacity: Int) {
        storage = OrderedDictionary(minimumCapacity: minimumCapacity)
    }

    /// Creates an object of `members` in order; a repeated key keeps its first position and
    /// its last value.
    init(members: some Collection<Element>) {
        self.init(minimumCapacity: members.count)
        for member in members {
            storage.updateValue(member.value, forKey: member.key)
        }
    }

    /// The number of members.
    public var count: Int { storage.count }

    /// Whether the object has no members.
    public var isEmpty: Bool { storage.isEmpty }

    /// The keys, in order.
    public var keys: [String] { Array(storage.keys) }

    /// The values, in key order.
    public var values: [JSONValue] { Array(storage.values) }

    /// The value for `key`, or `nil`; assigning `nil` removes the key.
    public subscript(key: String) -> JSONValue? {
        get { storage[key] }
        set { storage[key] = newValue }
    }

    /// Sets the value for `key` and returns the value it replaced, if any.
    @discardableResult
    public mutating func updateValue(_ value: JSONValue, forKey key: String) -> JSONValue? {
        storage.updateValue(value, forKey: key)
    }

    /// Removes `key` and returns its value, or `nil` if it was absent.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        storage.removeValue(forKey: key)
    }

    /// Iterates the members in order.
    public func makeIterator() -> OrderedDictionary<String, JSONValue>.Iterator {
        storage.makeIterator()
    }

    /// The number of members.
    public var underestimatedCount: Int { storage.count }
}
