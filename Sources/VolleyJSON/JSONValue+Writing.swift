extension JSONValue {
    /// Appends this value's compact JSON text to `bytes` (see ``JSONWriter``).
    public func write(into bytes: inout [UInt8]) {
        JSONWriter.write(self, into: &bytes)
    }

    /// This value's compact JSON text as UTF-8 bytes; never contains a raw newline.
    public var jsonBytes: [UInt8] {
        var bytes: [UInt8] = []
        // Room for a typical request body at once (growing by doubling from small showed
        // up as several allocations per request).
        bytes.reserveCapacity(512)
        JSONWriter.write(self, into: &bytes)
        return bytes
    }

    /// This value's compact JSON text; never contains a raw newline.
    public var jsonString: String {
        String(decoding: jsonBytes, as: UTF8.self)
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact JSON text, as ``jsonString``.
    public var description: String {
        jsonString
    }
}
