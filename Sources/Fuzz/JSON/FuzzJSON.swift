import FuzzSupport
import VolleyJSON

// fuzz-json: the whole input is one JSON document, read every way VolleyJSON reads one.
//
// - `JSONParser.parse` builds it (or fails with an error kind and offset);
// - `validate`, `parse(_:selecting:)` and a `JSONReader` walk must agree with it: the same
//   error at the same offset, and for a selection exactly the parsed value's selected part;
// - a value written by `JSONWriter` has no raw newline (one protocol line), parses back to an
//   equal value and writes again to the same bytes;
// - every number's `int` is exact (it converts to the same `Double` as the text does) and its
//   text is a `JSONNumber` again.

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    let bytes = Array(input.rest)
    JSONTarget.check(bytes, maxDepth: JSONParser.defaultMaxDepth)
    JSONTarget.check(bytes, maxDepth: 3)
    return 0
}

@main
enum Main {
    static func main() { FuzzDriver.main(testOneInput) }
}

enum JSONTarget {
    static func check(_ bytes: [UInt8], maxDepth: Int) {
        let parsed = Result { () throws(JSONParseError) in try JSONParser.parse(bytes, maxDepth: maxDepth) }
        let validated = Result { () throws(JSONParseError) in try JSONParser.validate(bytes, maxDepth: maxDepth) }
        require(validated.failure == parsed.failure, "validate: \(String(describing: validated.failure)) but parse: \(String(describing: parsed.failure))")

        for selection in selections(for: parsed.success) {
            let selected = Result { () throws(JSONParseError) in try JSONParser.parse(bytes, selecting: selection.selection, maxDepth: maxDepth) }
            require(selected.failure == parsed.failure, "parse(selecting:) failed with \(String(describing: selected.failure)), parse with \(String(describing: parsed.failure))")
            if let value = parsed.success {
                require(selected.success == selection.project(value), "parse(selecting:) built \(String(describing: selected.success)), not the selected part of \(value)")
            }
        }

        let walked = ReaderWalk.run(bytes, maxDepth: maxDepth)
        require(walked == parsed.failure, "JSONReader walk: \(String(describing: walked)) but parse: \(String(describing: parsed.failure))")

        if let value = parsed.success {
            checkWriting(value)
            checkNumbers(in: value)
        }
    }

    /// A selection and what it must keep of a parsed value (`JSONSelection` hides its parts).
    struct Selection {
        var selection: JSONSelection
        /// The kept members, nil for the whole value. Names are matched as JSON matches them,
        /// byte for byte, not as a `[String: ...]` would (canonical equivalence).
        var tree: [(name: String, selection: Selection)]?

        static let all = Selection(selection: .all, tree: nil)

        static func members(_ tree: [(name: String, selection: Selection)]) -> Selection {
            // `.members` takes a dictionary: names canonically equivalent to an earlier one
            // are left out (they could not be told apart in it).
            var unique: [(name: String, selection: Selection)] = []
            var dictionary: [String: JSONSelection] = [:]
            for member in tree where dictionary[member.name] == nil {
                dictionary[member.name] = member.selection.selection
                unique.append(member)
            }
            return Selection(selection: .members(dictionary), tree: unique)
        }

        /// The part of `value` this selection keeps, as `parse(_:selecting:)` documents it.
        func project(_ value: JSONValue) -> JSONValue {
            guard let tree else { return value }
            switch value {
            case .object(let object):
                var kept = JSONObject()
                for (key, member) in object {
                    if let inner = tree.first(where: { $0.name.utf8.elementsEqual(key.utf8) }) {
                        kept[key] = inner.selection.project(member)
                    }
                }
                return .object(kept)
            case .array(let elements):
                return .array(elements.map(project))
            default:
                return value
            }
        }
    }

    /// Fixed selections, and one made of the parsed document's own keys (every other key of
    /// the first objects met), so that kept and skipped members mix.
    static func selections(for value: JSONValue?) -> [Selection] {
        var result: [Selection] = [
            .members([]),
            .members([("model", .all), ("usage", .members([("prompt_tokens", .all)])), ("\u{E9}", .all), ("a\"b", .all)]),
        ]
        if let value {
            var budget = 8
            result.append(selection(of: value, budget: &budget))
        }
        return result
    }

    private static func selection(of value: JSONValue, budget: inout Int) -> Selection {
        switch value {
        case .object(let object):
            var tree: [(name: String, selection: Selection)] = []
            for (position, member) in object.enumerated() where position % 2 == 0 && budget > 0 {
                budget -= 1
                tree.append((member.key, selection(of: member.value, budget: &budget)))
            }
            return .members(tree)
        case .array(let elements):
            return elements.first.map { selection(of: $0, budget: &budget) } ?? .all
        default:
            return .all
        }
    }

    static func checkWriting(_ value: JSONValue) {
        let written = value.jsonBytes
        require(!written.contains(0x0A) && !written.contains(0x0D), "written JSON has a raw line break: \(value)")
        let reparsed = Result { () throws(JSONParseError) in try JSONParser.parse(written, maxDepth: Int.max) }
        require(reparsed.success == value, "written JSON reads back as \(String(describing: reparsed)), not \(value)")
        require(reparsed.success?.jsonBytes == written, "written JSON is not written the same way twice")
    }

    static func checkNumbers(in value: JSONValue) {
        switch value {
        case .number(let number):
            require(JSONNumber(text: number.text) == number, "number text \(number.text) is not a JSONNumber")
            if let int = number.int {
                require(number.double == Double(int), "\(number.text): int \(int) but double \(String(describing: number.double))")
            }
        case .array(let elements):
            elements.forEach(checkNumbers)
        case .object(let object):
            object.values.forEach(checkNumbers)
        default:
            break
        }
    }
}

/// Walks a document with `JSONReader` the way the providers' decoders do, choosing by a
/// position hash how to consume each value (descend, read as a string or an integer, read
/// whole, take its byte range, skip); returns the error it met, if any.
enum ReaderWalk {
    static func run(_ bytes: [UInt8], maxDepth: Int) -> JSONParseError? {
        bytes.withUnsafeBytes { raw -> JSONParseError? in
            guard let base = raw.baseAddress, !raw.isEmpty else { return JSONParseError(kind: .unexpectedEndOfInput, offset: 0) }
            var reader = JSONReader(base: base, count: raw.count, maxDepth: maxDepth)
            do throws(JSONParseError) {
                try walk(&reader, raw)
                try reader.finish()
                return nil
            } catch {
                return error
            }
        }
    }

    private static func walk(_ reader: inout JSONReader, _ raw: UnsafeRawBufferPointer) throws(JSONParseError) {
        let choice = (reader.offset &* 2_654_435_761) >> 7 & 7
        let kind = try reader.peek()
        switch (kind, choice) {
        case (.object, 0...4):
            try reader.readObject { reader, key throws(JSONParseError) in
                if key == "skip" { try reader.skip() } else { try walk(&reader, raw) }
            }
        case (.array, 0...4):
            try reader.readArray { reader, _ throws(JSONParseError) in try walk(&reader, raw) }
        case (.string, 0...3):
            let text = try reader.readString()
            require(text != nil, "readString gave nil for a string")
        case (.number, 0...3):
            let start = reader.offset
            let int = try reader.readInt()
            let literal = Result { () throws(JSONParseError) in try JSONParser.parse(UnsafeRawBufferPointer(rebasing: raw[start..<reader.offset])) }
            require(literal.success?.intValue == int, "readInt gave \(String(describing: int)) for \(String(describing: literal))")
        case (_, 5):
            let range = try reader.readRange()
            // A range the reader checked is one JSON document on its own.
            let alone = Result { () throws(JSONParseError) in try JSONParser.parse(UnsafeRawBufferPointer(rebasing: raw[range]), maxDepth: Int.max) }
            require(alone.failure == nil, "readRange gave \(range), which does not parse alone: \(String(describing: alone.failure))")
        case (_, 6):
            let start = reader.offset
            let value = try reader.readValue()
            let alone = Result { () throws(JSONParseError) in try JSONParser.parse(UnsafeRawBufferPointer(rebasing: raw[start..<reader.offset]), maxDepth: Int.max) }
            require(alone.success == value, "readValue gave \(value), its text parses as \(String(describing: alone))")
        default:
            try reader.skip()
        }
    }
}

extension Result {
    var success: Success? {
        if case .success(let value) = self { return value }
        return nil
    }

    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
