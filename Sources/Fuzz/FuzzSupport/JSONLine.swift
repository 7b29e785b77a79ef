import VolleyJSON

/// Requires `line` to be what the protocol writes: one line (no raw CR or LF) holding one
/// JSON value, which is returned (`.null` after a failed requirement).
public func requireJSONLine(_ line: [UInt8], _ what: String) -> JSONValue {
    require(!line.contains(0x0A) && !line.contains(0x0D), "\(what) holds a line break")
    do {
        return try JSONParser.parse(line, maxDepth: Int.max)
    } catch {
        require(false, "\(what) is not JSON (\(error)): \(String(decoding: line, as: UTF8.self))")
        return .null
    }
}
