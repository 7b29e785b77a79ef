import VolleyCore

/// Values applied to lines that do not set them.
package struct LineDefaults: Sendable {
    /// `request.model` when the line's request has none.
    package var model: String?
    /// The item's `timeout` when the line has none.
    package var timeoutSeconds: Double?
    /// OpenAI Batch lines become raw calls of their `url` (the provider's body passes through
    /// whole, for the Batch output line) rather than endpoint items: when the default provider
    /// speaks OpenAI's API itself.
    package var batchLinesAsRawCalls = false

    package init(model: String? = nil, timeoutSeconds: Double? = nil, batchLinesAsRawCalls: Bool = false) {
        self.model = model
        self.timeoutSeconds = timeoutSeconds
        self.batchLinesAsRawCalls = batchLinesAsRawCalls
    }
}

/// What one input line is.
package enum DecodedLine: Equatable {
    /// Nothing but whitespace: skipped, no outcome.
    case blank
    /// A Volley item, ready for `Engine.prepare`. Its `key` field is set (to `line:<n>` when the
    /// line had none), so the outcome carries it. `batchURL`: the line was an OpenAI Batch line
    /// for this URL.
    case item(key: String, value: JSONValue, batchURL: String? = nil)
    /// A line that cannot run; it gets an `invalid_request` outcome with this message.
    case invalid(key: String, message: String, batch: Bool = false)

    package var key: String? {
        switch self {
        case .blank: return nil
        case .item(let key, _, _), .invalid(let key, _, _): return key
        }
    }

    /// Whether the line was an OpenAI Batch line.
    package var isBatch: Bool {
        switch self {
        case .blank: return false
        case .item(_, _, let url): return url != nil
        case .invalid(_, _, let batch): return batch
        }
    }
}

/// Turns one input line into an item. Two formats are accepted, detected per line:
///
/// - a Volley item: `{"key", "provider", "request", "timeout", "max_retries", "format", "raw"}`
///   (see docs/protocol.md);
/// - an OpenAI Batch API line: `{"custom_id", "method": "POST", "url": "/v1/chat/completions",
///   "body": {...}}`, which becomes `{"key": custom_id, "request": body}`.
///
/// A line with `request` is an item; otherwise one with any of `custom_id`, `body`, `url` or
/// `method` is an OpenAI batch line; anything else is treated as an item (and is told that
/// `request` is missing).
package enum LineDecoder {
    /// The Batch API's URLs and the endpoint each calls.
    static let openAIURLs: [String: Item.Endpoint] = [
        "/v1/chat/completions": .chat, "/v1/embeddings": .embeddings, "/v1/responses": .responses, "/v1/completions": .completions,
    ]

    /// `/v1/x` for `/x` too (the Batch API wants `/v1`; some tools leave it out).
    static func batchEndpoint(_ url: String) -> (url: String, endpoint: Item.Endpoint)? {
        let full = url.hasPrefix("/v1/") ? url : "/v1" + url
        return openAIURLs[full].map { (full, $0) }
    }

    /// The key of a line that names none.
    package static func lineKey(_ line: Int) -> String { "line:\(line)" }

    package static func decode(_ bytes: [UInt8], line: Int, defaults: LineDefaults) -> DecodedLine {
        if line == 1, bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            // A UTF-8 byte order mark, as some Windows editors write.
            return decode(Array(bytes.dropFirst(3)), line: line, defaults: defaults)
        }
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return .blank }
        let fallbackKey = lineKey(line)
        func invalid(_ message: String, key: String? = nil) -> DecodedLine {
            .invalid(key: key ?? fallbackKey, message: "line \(line): \(message)")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            return invalid("invalid JSON: \(error.message)")
        }
        guard case .object(var object) = value else {
            return invalid("expected a JSON object (a Volley item or an OpenAI batch line)")
        }
        let isOpenAI = object["request"] == nil
            && ["custom_id", "body", "url", "method"].contains { object[$0] != nil }
        if isOpenAI {
            return decodeOpenAI(object, line: line, defaults: defaults)
        }

        // A Volley item.
        let key: String
        switch object["key"] {
        case nil, .null?:
            key = fallbackKey
            object["key"] = .string(key)
        case .string(let text)?:
            key = text
        default:
            return invalid("`key` must be a string")
        }
        if var request = object["request"]?.objectValue {
            if let model = defaults.model, request["model"] == nil || request["model"] == .null {
                request["model"] = .string(model)
                object["request"] = .object(request)
            }
        }
        if let timeout = defaults.timeoutSeconds, object["timeout"] == nil || object["timeout"] == .null {
            object["timeout"] = .number(JSONNumber(timeout) ?? 1)
        }
        let item = JSONValue.object(object)
        if case .failure(let error) = Item.parse(item) {
            return invalid(error.message, key: key)
        }
        return .item(key: key, value: item)
    }

    private static func decodeOpenAI(_ object: JSONObject, line: Int, defaults: LineDefaults) -> DecodedLine {
        let key: String
        switch object["custom_id"] {
        case nil, .null?:
            key = lineKey(line)
        case .string(let text)?:
            key = text
        default:
            return .invalid(key: lineKey(line), message: "line \(line): `custom_id` must be a string", batch: true)
        }
        func invalid(_ message: String) -> DecodedLine {
            .invalid(key: key, message: "line \(line): \(message)", batch: true)
        }
        if let method = object["method"], !method.isNull, method.stringValue != "POST" {
            return invalid("`method` must be \"POST\" (OpenAI batch line)")
        }
        guard let url = object["url"]?.stringValue else {
            return invalid("`url` is required (OpenAI batch line): \"/v1/chat/completions\"")
        }
        guard let (fullURL, endpoint) = batchEndpoint(url) else {
            return invalid("`url` \"\(url)\" is not supported; the Batch API's are \(openAIURLs.keys.sorted().joined(separator: ", "))")
        }
        guard var body = object["body"]?.objectValue else {
            return invalid("`body` is required and must be an object (OpenAI batch line)")
        }
        if let model = defaults.model, body["model"] == nil || body["model"] == .null {
            body["model"] = .string(model)
        }
        if !defaults.batchLinesAsRawCalls, endpoint == .embeddings, body["encoding_format"] == nil {
            body["encoding_format"] = "float"  // The API's default: the output line must say what OpenAI would.
        }
        var item: JSONObject = ["key": .string(key), "request": .object(body)]
        if defaults.batchLinesAsRawCalls {
            item["path"] = .string(fullURL)
        } else if endpoint != .chat {
            item["endpoint"] = .string(endpoint.name)
        }
        if let timeout = defaults.timeoutSeconds {
            item["timeout"] = .number(JSONNumber(timeout) ?? 1)
        }
        if case .failure(let error) = Item.parse(.object(item)) { return invalid(error.message) }
        return .item(key: key, value: .object(item), batchURL: fullURL)
    }
}
