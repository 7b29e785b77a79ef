extension JSONValue {
    /// Creates a number value from an integer.
    public init(_ value: some BinaryInteger) {
        self = .number(JSONNumber(value))
    }

    /// Creates a number value from a double; NaN and infinities become `null`.
    ///
    /// JSON has no spelling for non-finite numbers; mapping them to `null` matches what
    /// JavaScript's `JSON.stringify` does, so a computed metric can never make a message invalid.
    public init(_ value: Double) {
        if let number = JSONNumber(value) {
            self = .number(number)
        } else {
            self = .null
        }
    }

    /// The member named `key` when this is an object that has it, else `nil`.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let object) = self else { return nil }
        return object[key]
    }

    /// The element at `index` when this is an array and `index` is in bounds, else `nil`.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// The string when this is a string, else `nil`.
    public var stringValue: String? {
        guard case .string(let value) = self else { return nil }
        return value
    }

    /// The number when this is a number, else `nil`.
    public var numberValue: JSONNumber? {
        guard case .number(let value) = self else { return nil }
        return value
    }

    /// The exact integer when this is a number with an integral value that fits in `Int`
    /// (see ``JSONNumber/int``), else `nil`.
    public var intValue: Int? {
        numberValue?.int
    }

    /// The nearest `Double` when this is a number within `Double`'s finite range, else `nil`.
    public var doubleValue: Double? {
        numberValue?.double
    }

    /// The boolean when this is `true` or `false`, else `nil`.
    public var boolValue: Bool? {
        guard case .bool(let value) = self else { return nil }
        return value
    }

    /// The object when this is an object, else `nil`.
    public var objectValue: JSONObject? {
        guard case .object(let value) = self else { return nil }
        return value
    }

    /// The elements when this is an array, else `nil`.
    public var arrayValue: [JSONValue]? {
        guard case .array(let value) = self else { return nil }
        return value
    }

    /// Whether this is `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}
