import VolleyCore

/// Reads a method's params object with errors that name the field (-32602).
struct Params {
    let object: JSONObject
    let method: String

    /// - Throws: -32602 when params are present but not an object, or have unknown fields.
    init(_ params: JSONValue?, method: String, allowed: Set<String>) throws(RPCError) {
        self.method = method
        switch params {
        case nil, .null?:
            object = [:]
        case .object(let object)?:
            self.object = object
        default:
            throw .invalidParams("\(method) takes an object of named params")
        }
        if let unknown = object.keys.first(where: { !allowed.contains($0) }) {
            throw .invalidParams("\(method): unknown param `\(unknown)`; known: \(allowed.sorted().joined(separator: ", "))")
        }
    }

    func value(_ name: String) -> JSONValue? {
        guard let value = object[name], !value.isNull else { return nil }
        return value
    }

    func bool(_ name: String) throws(RPCError) -> Bool? {
        guard let value = value(name) else { return nil }
        guard let flag = value.boolValue else { throw .invalidParams("\(method): `\(name)` must be a boolean") }
        return flag
    }

    func string(_ name: String) throws(RPCError) -> String? {
        guard let value = value(name) else { return nil }
        guard let text = value.stringValue else { throw .invalidParams("\(method): `\(name)` must be a string") }
        return text
    }

    func int(_ name: String, _ range: ClosedRange<Int>) throws(RPCError) -> Int? {
        guard let value = value(name) else { return nil }
        guard let number = value.intValue, range.contains(number) else {
            throw .invalidParams("\(method): `\(name)` must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func positiveSeconds(_ name: String) throws(RPCError) -> Double? {
        guard let value = value(name) else { return nil }
        guard let number = value.doubleValue, number > 0, number.isFinite else {
            throw .invalidParams("\(method): `\(name)` must be a positive number of seconds")
        }
        return number
    }
}
