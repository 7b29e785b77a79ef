import VolleyJSON

/// Readers of the body fields the model endpoints share (`model`, flags, token limits), each
/// throwing the `FakeRequestProblem` OpenAI's validation would answer with.
enum FakeRequestFields {
    /// The `model` field, if the body has one (for records of requests that fail validation).
    static func model(of body: JSONValue?) -> String? { body?["model"]?.stringValue }

    /// The non-empty `model` string.
    static func requiredModel(_ body: JSONValue) throws(FakeRequestProblem) -> String {
        guard let model = body["model"]?.stringValue, !model.isEmpty else {
            throw FakeRequestProblem("you must provide a model parameter", param: "model")
        }
        return model
    }

    /// An integer field of at least 1, or nil when absent or `null`.
    static func optionalPositiveInt(_ body: JSONValue, _ key: String) throws(FakeRequestProblem) -> Int? {
        guard let value = body[key], !value.isNull else { return nil }
        guard let number = value.intValue, number >= 1 else {
            throw FakeRequestProblem("Invalid '\(key)': expected an integer >= 1.", param: key)
        }
        return number
    }

    /// An integer field within `range`, or nil when absent or `null`, with OpenAI's messages
    /// for a wrong type and for a value below or above the range.
    static func optionalInt(_ body: JSONValue, _ key: String, in range: ClosedRange<Int>) throws(FakeRequestProblem) -> Int? {
        guard let value = body[key], !value.isNull else { return nil }
        guard let number = value.intValue else {
            throw FakeRequestProblem(
                "Invalid type for '\(key)': expected an integer, but got \(typeName(value)) instead.", param: key)
        }
        if number < range.lowerBound {
            throw FakeRequestProblem(
                "Invalid '\(key)': integer below minimum value. Expected a value >= \(range.lowerBound), but got "
                    + "\(number) instead.", param: key)
        }
        if number > range.upperBound {
            throw FakeRequestProblem(
                "Invalid '\(key)': integer above maximum value. Expected a value <= \(range.upperBound), but got "
                    + "\(number) instead.", param: key)
        }
        return number
    }

    /// A boolean field, false when absent or `null`.
    static func optionalBool(_ body: JSONValue, _ key: String) throws(FakeRequestProblem) -> Bool {
        guard let value = body[key], !value.isNull else { return false }
        guard let flag = value.boolValue else {
            throw FakeRequestProblem("Invalid '\(key)': expected a boolean.", param: key)
        }
        return flag
    }

    /// How OpenAI names a JSON value's type in "expected …, but got … instead".
    static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number(let number): return number.int != nil ? "an integer" : "a decimal"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// The prompts of `POST /v1/completions` or the inputs of `POST /v1/embeddings`, which take
    /// the same four shapes: a string, an array of strings, an array of token ids (one prompt),
    /// or an array of token-id arrays. `nil` when `value` is none of them (an empty array, a
    /// mixed array, a negative or fractional token id, an empty token array); empty strings are
    /// kept, for the caller to judge.
    static func prompts(_ value: JSONValue) -> [FakePrompt]? {
        switch value {
        case .string(let text):
            return [.text(text)]
        case .array(let elements):
            guard let first = elements.first else { return nil }
            switch first {
            case .string:
                var texts: [FakePrompt] = []
                texts.reserveCapacity(elements.count)
                for element in elements {
                    guard let text = element.stringValue else { return nil }
                    texts.append(.text(text))
                }
                return texts
            case .number:
                return tokenIDs(elements).map { [.tokens($0)] }
            case .array:
                var lists: [FakePrompt] = []
                lists.reserveCapacity(elements.count)
                for element in elements {
                    guard let ids = element.arrayValue.flatMap(tokenIDs) else { return nil }
                    lists.append(.tokens(ids))
                }
                return lists
            default:
                return nil
            }
        default:
            return nil
        }
    }

    /// Non-negative integer token ids, `nil` for an empty array or any other element.
    private static func tokenIDs(_ elements: [JSONValue]) -> [Int]? {
        guard !elements.isEmpty else { return nil }
        var ids: [Int] = []
        ids.reserveCapacity(elements.count)
        for element in elements {
            guard let id = element.intValue, id >= 0 else { return nil }
            ids.append(id)
        }
        return ids
    }
}

/// One prompt of a legacy completion or one input of an embedding: text, or token ids.
enum FakePrompt: Sendable, Equatable {
    case text(String)
    case tokens([Int])

    /// `FakeTokenizer`'s count: `ceil(scalars / 4)` for text, one per token id.
    var tokenCount: Int {
        switch self {
        case .text(let text): return FakeTokenizer.promptTokens(characterCount: text.unicodeScalars.count)
        case .tokens(let ids): return ids.count
        }
    }

    /// The text a reply echoes: the text itself, nothing for token ids.
    var text: String {
        switch self {
        case .text(let text): return text
        case .tokens: return ""
        }
    }
}

/// Why a request body is not a valid request; answered with 400 `invalid_request_error`.
struct FakeRequestProblem: Error, Equatable, Sendable {
    var message: String
    var param: String?

    init(_ message: String, param: String? = nil) {
        self.message = message
        self.param = param
    }
}
