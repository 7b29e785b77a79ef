import VolleyCore

/// The error `JSONParser` throws for `bytes`, or `nil` if they parse.
func parseError(_ bytes: [UInt8], maxDepth: Int = JSONParser.defaultMaxDepth) -> JSONParseError? {
    do throws(JSONParseError) {
        _ = try JSONParser.parse(bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

/// The error `JSONParser` throws for the UTF-8 of `text`, or `nil` if it parses.
func parseError(_ text: String, maxDepth: Int = JSONParser.defaultMaxDepth) -> JSONParseError? {
    parseError(Array(text.utf8), maxDepth: maxDepth)
}

/// Parses `text` and writes it back compactly.
func reserialized(_ text: String) throws -> String {
    try JSONParser.parse(text).jsonString
}

/// `[` repeated `depth` times, then `]` as many times.
func nestedArrays(depth: Int) -> String {
    String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
}
