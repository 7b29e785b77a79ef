/// A strict RFC 8259 JSON parser that keeps number text and key order.
///
/// Rejects everything RFC 8259 does not allow: whitespace other than space, tab, CR and LF;
/// anything after the value; leading zeros; `NaN` and `Infinity`; raw control characters in
/// strings; unknown escapes; and invalid UTF-8 anywhere (reported as
/// ``JSONParseError/Kind/invalidUTF8``). A `\u` escape of a lone surrogate becomes U+FFFD instead
/// of failing, because JavaScript's `JSON.stringify` emits them. Duplicate object keys: the last
/// value wins, at the first key's position.
///
/// Parsing works directly on the caller's bytes; the fastest entry point is the
/// `UnsafeRawBufferPointer` one, which the others forward to.
public enum JSONParser {
    /// The default limit on nested arrays and objects.
    public static let defaultMaxDepth = 512

    /// Parses exactly one JSON value from `bytes`.
    ///
    /// - Parameter maxDepth: the deepest nesting of arrays and objects accepted; a top-level
    ///   scalar has depth 0, `[]` depth 1. Deeper input fails with
    ///   ``JSONParseError/Kind/depthLimitExceeded`` before it can exhaust the stack.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer,
        maxDepth: Int = defaultMaxDepth
    ) throws(JSONParseError) -> JSONValue {
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            throw JSONParseError(kind: .unexpectedEndOfInput, offset: 0)
        }
        var core = JSONParserCore(base: base, count: bytes.count, maxDepth: maxDepth)
        return try core.parseDocument()
    }

    /// Parses exactly one JSON value from `bytes`, building only the parts `selection` keeps.
    /// The rest is checked by the same rules (the same errors at the same offsets) but not
    /// built, which makes reading a few fields of a large document much cheaper.
    public static func parse(
        _ bytes: [UInt8],
        selecting selection: JSONSelection,
        maxDepth: Int = defaultMaxDepth
    ) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(JSONParseError) -> JSONValue in
                guard let base = raw.baseAddress, !raw.isEmpty else {
                    throw JSONParseError(kind: .unexpectedEndOfInput, offset: 0)
                }
                var core = JSONParserCore(base: base, count: raw.count, maxDepth: maxDepth)
                return try core.parseDocument(selecting: selection)
            }
        }
        return try result.get()
    }

    /// Checks that `bytes` are exactly one JSON value, by the same rules as `parse`, without
    /// building it.
    public static func validate(
        _ bytes: some Collection<UInt8>,
        maxDepth: Int = defaultMaxDepth
    ) throws(JSONParseError) {
        func check(_ raw: UnsafeRawBufferPointer) -> Result<Void, JSONParseError> {
            guard let base = raw.baseAddress, !raw.isEmpty else {
                return .failure(JSONParseError(kind: .unexpectedEndOfInput, offset: 0))
            }
            var core = JSONParserCore(base: base, count: raw.count, maxDepth: maxDepth)
            return Result { () throws(JSONParseError) in try core.validateDocument() }
        }
        let result = bytes.withContiguousStorageIfAvailable { check(UnsafeRawBufferPointer($0)) }
            ?? Array(bytes).withUnsafeBytes { check($0) }
        try result.get()
    }

    /// Parses exactly one JSON value from a byte array. Same rules as the `UnsafeRawBufferPointer` overload.
    public static func parse(
        _ bytes: [UInt8],
        maxDepth: Int = defaultMaxDepth
    ) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(JSONParseError) -> JSONValue in try parse(raw, maxDepth: maxDepth) }
        }
        return try result.get()
    }

    /// Parses exactly one JSON value from any byte collection (copied first if not contiguous).
    public static func parse(
        _ bytes: some Collection<UInt8>,
        maxDepth: Int = defaultMaxDepth
    ) throws(JSONParseError) -> JSONValue {
        let contiguous = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONParseError) -> JSONValue in
                try parse(UnsafeRawBufferPointer(buffer), maxDepth: maxDepth)
            }
        }
        if let contiguous {
            return try contiguous.get()
        }
        return try parse(Array(bytes), maxDepth: maxDepth)
    }

    /// Parses exactly one JSON value from the UTF-8 of `text`.
    public static func parse(
        _ text: String,
        maxDepth: Int = defaultMaxDepth
    ) throws(JSONParseError) -> JSONValue {
        try parse(text.utf8, maxDepth: maxDepth)
    }
}
