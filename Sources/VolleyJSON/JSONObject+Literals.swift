extension JSONObject: ExpressibleByDictionaryLiteral {
    /// A dictionary literal, with the keys in the order written.
    ///
    /// A key written twice keeps its first position and its last value, as when parsing.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(minimumCapacity: elements.count)
        for (key, value) in elements {
            updateValue(value, forKey: key)
        }
    }
}
