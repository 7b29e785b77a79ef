import Testing
import VolleyJSON

/// The error `JSONParser` throws for `bytes`, or `nil` if they parse.
///
/// Also checks that the paths that skip instead of building (`validate`, and `parse` with a
/// selection that keeps nothing inside objects) accept and reject exactly the same input,
/// with the same error at the same offset: every parser test covers them too.
func parseError(_ bytes: [UInt8], maxDepth: Int = JSONParser.defaultMaxDepth) -> JSONParseError? {
    func attempt(_ body: () throws(JSONParseError) -> Void) -> JSONParseError? {
        do throws(JSONParseError) {
            try body()
            return nil
        } catch {
            return error
        }
    }
    let parsed = attempt { () throws(JSONParseError) in _ = try JSONParser.parse(bytes, maxDepth: maxDepth) }
    let validated = attempt { () throws(JSONParseError) in try JSONParser.validate(bytes, maxDepth: maxDepth) }
    let selected = attempt { () throws(JSONParseError) in
        _ = try JSONParser.parse(bytes, selecting: .members([:]), maxDepth: maxDepth)
    }
    #expect(validated == parsed, "validate disagrees with parse on \(bytes)")
    #expect(selected == parsed, "a selective parse disagrees with parse on \(bytes)")
    return parsed
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
