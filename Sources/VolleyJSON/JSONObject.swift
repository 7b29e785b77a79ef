/// A JSON object that keeps its keys in insertion order.
///
/// Setting an existing key replaces its value in place (the key keeps its first position);
/// setting a new key appends it. The parser builds objects the same way, so a duplicate key in
/// the input keeps its first position and its last value.
///
/// Keys are compared as JSON compares names (RFC 8259 §8.3): by their Unicode scalars, not by
/// Swift's `String` equality, under which `"é"` and `"e\u{301}"` (or the Kelvin sign and `K`)
/// are one string. So an object parsed with both keeps both, as every JSON reader does.
///
/// Lookups scan the keys while the object is small (the usual case: a handful of keys) and use a
/// hash index once it grows past ``indexThreshold`` keys, so big objects stay O(1) per lookup.
/// Equality ignores key order, as JSON does; iterate to compare order.
public struct JSONObject: Sendable, Sequence {
    /// One member: its key and its value.
    public typealias Element = (key: String, value: JSONValue)

    /// The key count above which a hash index backs lookups.
    public static let indexThreshold = 16

    private var entries: [Element]
    /// Key → position in `entries`; present only while `entries.count > indexThreshold`.
    private var index: [Name: Int]?

    /// Creates an empty object.
    public init() {
        entries = []
        index = nil
    }

    /// Creates an empty object with room for `minimumCapacity` members.
    public init(minimumCapacity: Int) {
        entries = []
        entries.reserveCapacity(minimumCapacity)
        index = nil
    }

    /// Creates an object of `members` in order, with the exact capacity. A repeated key keeps
    /// its first position and its last value, as `updateValue` does.
    init(members: some Collection<Element>) {
        self.init(minimumCapacity: members.count)
        for member in members {
            updateValue(member.value, forKey: member.key)
        }
    }

    /// The number of members.
    public var count: Int {
        entries.count
    }

    /// Whether the object has no members.
    public var isEmpty: Bool {
        entries.isEmpty
    }

    /// The keys, in order.
    public var keys: [String] {
        entries.map(\.key)
    }

    /// The values, in key order.
    public var values: [JSONValue] {
        entries.map(\.value)
    }

    /// The value for `key`, or `nil`; assigning `nil` removes the key.
    public subscript(key: String) -> JSONValue? {
        get {
            guard let position = position(of: key) else { return nil }
            return entries[position].value
        }
        set {
            if let newValue {
                updateValue(newValue, forKey: key)
            } else {
                removeValue(forKey: key)
            }
        }
    }

    /// Sets the value for `key` and returns the value it replaced, if any.
    ///
    /// An existing key keeps its position; a new key goes last.
    @discardableResult
    public mutating func updateValue(_ value: JSONValue, forKey key: String) -> JSONValue? {
        if let position = position(of: key) {
            let old = entries[position].value
            entries[position].value = value
            return old
        }
        entries.append((key: key, value: value))
        if index != nil {
            index?[Name(key)] = entries.count - 1
        } else if entries.count > Self.indexThreshold {
            rebuildIndex()
        }
        return nil
    }

    /// Removes `key` and returns its value, or `nil` if it was absent. O(count).
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let position = position(of: key) else { return nil }
        let old = entries.remove(at: position).value
        if entries.count > Self.indexThreshold {
            rebuildIndex()
        } else {
            index = nil
        }
        return old
    }

    /// Iterates the members in order.
    public func makeIterator() -> IndexingIterator<[Element]> {
        entries.makeIterator()
    }

    /// The number of members.
    public var underestimatedCount: Int {
        entries.count
    }

    private func position(of key: String) -> Int? {
        if let index {
            return index[Name(key)]
        }
        for position in entries.indices where Name.same(entries[position].key, key) {
            return position
        }
        return nil
    }

    private mutating func rebuildIndex() {
        var rebuilt: [Name: Int] = [:]
        rebuilt.reserveCapacity(entries.count)
        for (position, entry) in entries.enumerated() {
            rebuilt[Name(entry.key)] = position
        }
        index = rebuilt
    }
}
