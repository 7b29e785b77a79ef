/// One call of a batch, validated.
public struct Item: Sendable {
    /// How the item's `request` body is interpreted.
    public enum Format: String, Sendable {
        /// An OpenAI chat-completions body, translated for other providers.
        case openai
        /// The provider's own body, sent unchanged.
        case native
    }

    /// Which API of the provider the item calls.
    public enum Endpoint: Sendable, Hashable {
        /// Chat completions (translated to Messages for Anthropic): the default.
        case chat
        /// OpenAI embeddings (`/embeddings`).
        case embeddings
        /// OpenAI Responses (`/responses`).
        case responses
        /// Anthropic Messages, the body sent as it is (`/v1/messages`).
        case messages
        /// Legacy text completions (`/completions`), as many local servers keep.
        case completions
        /// Any path under the provider's base URL, POSTed with its auth and headers; the
        /// reply's body is the value.
        case raw(path: String)

        /// The `endpoint` names, in the order the protocol lists them.
        public static let names = ["chat", "embeddings", "responses", "messages", "completions"]

        init?(name: String) {
            switch name {
            case "chat": self = .chat
            case "embeddings": self = .embeddings
            case "responses": self = .responses
            case "messages": self = .messages
            case "completions": self = .completions
            default: return nil
            }
        }

        /// Its name in the protocol (`raw` for a path).
        public var name: String {
            switch self {
            case .chat: "chat"
            case .embeddings: "embeddings"
            case .responses: "responses"
            case .messages: "messages"
            case .completions: "completions"
            case .raw: "raw"
            }
        }
    }

    public var key: String?
    /// The provider name given on the item, if any.
    public var provider: String?
    /// The request body (always a JSON object).
    public var request: JSONObject
    /// Seconds for this item, retries included.
    public var timeoutSeconds: Double?
    /// Overrides the provider's `retry.max_retries`.
    public var maxRetries: Int?
    public var format: Format
    /// Include the provider's whole response body as `value.raw`.
    public var includeRaw: Bool
    /// Stream the answer (`delta` notifications) as the provider writes it.
    public var stream: Bool
    public var endpoint: Endpoint

    public init(
        key: String? = nil,
        provider: String? = nil,
        request: JSONObject,
        timeoutSeconds: Double? = nil,
        maxRetries: Int? = nil,
        format: Format = .openai,
        includeRaw: Bool = false,
        stream: Bool = false,
        endpoint: Endpoint = .chat
    ) {
        self.key = key
        self.provider = provider
        self.request = request
        self.timeoutSeconds = timeoutSeconds
        self.maxRetries = maxRetries
        self.format = format
        self.includeRaw = includeRaw
        self.stream = stream
        self.endpoint = endpoint
    }

    /// The `model` of the request body, if it names one.
    public var model: String? { request["model"]?.stringValue }
}

extension Item {
    /// Validates one element of `requests`. A malformed item is not a protocol error: it
    /// becomes an `invalid_request` outcome; `key` is still recovered when it is valid so the
    /// host can match the outcome.
    public static func parse(_ value: JSONValue) -> Result<Item, ItemError> {
        guard case .object(let object) = value else {
            return .failure(ItemError(.invalidRequest, "an item must be a JSON object"))
        }
        // A misspelt option (`timout`, `max_retires`) would otherwise be ignored and the item
        // run without it; the request body itself is the provider's and passes through.
        if let unknown = object.first(where: { !fields.contains($0.key) })?.key {
            return .failure(ItemError(.invalidRequest, "unknown item field `\(unknown)`; known: \(fields.joined(separator: ", ")) (request-body parameters go inside `request`)"))
        }
        /// An optional member: nil when absent or null, else `read`'s value or an error naming
        /// `rule` (made only then: an item is parsed for every element of every batch).
        func member<T>(_ name: String, must rule: @autoclosure () -> String, _ read: (JSONValue) -> T?) throws(ItemError) -> T? {
            guard let value = object[name], !value.isNull else { return nil }
            guard let read = read(value) else { throw ItemError(.invalidRequest, "`\(name)` must be \(rule())") }
            return read
        }
        do throws(ItemError) {
            // Checked in this order: the first problem is the one reported.
            let key = try member("key", must: "a string") { $0.stringValue }
            let provider = try member("provider", must: "a string") { $0.stringValue }
            guard case .object(let request)? = object["request"] else {
                throw ItemError(.invalidRequest, "`request` is required and must be an object")
            }
            let timeout = try member("timeout", must: "a positive number of seconds") { value in
                value.doubleValue.flatMap { $0 > 0 && $0.isFinite ? $0 : nil }
            }
            let retries = try member("max_retries", must: "an integer from 0 to 100") { value in
                value.intValue.flatMap { (0...100).contains($0) ? $0 : nil }
            }
            let format = try member("format", must: "\"openai\" or \"native\"") { value in
                value.stringValue.flatMap(Format.init(rawValue:))
            }
            let raw = try member("raw", must: "a boolean") { $0.boolValue }
            let stream = try member("stream", must: "a boolean") { $0.boolValue }
            var endpoint = try member("endpoint", must: "one of \(Endpoint.names.joined(separator: ", "))") { value in
                value.stringValue.flatMap(Endpoint.init(name:))
            } ?? .chat
            if let path = try member("path", must: "a path starting with / (such as \"/v1/moderations\")", { value in
                value.stringValue.flatMap { $0.hasPrefix("/") && !$0.hasPrefix("//") && !$0.contains(where: { $0.isWhitespace || $0 == "#" }) ? $0 : nil }
            }) {
                guard object["endpoint"] == nil || object["endpoint"]?.isNull == true else {
                    throw ItemError(.invalidRequest, "`path` calls a raw endpoint: give `endpoint` or `path`, not both")
                }
                endpoint = .raw(path: path)
            }
            if endpoint != .chat, endpoint != .messages, stream == true {
                throw ItemError(.invalidRequest, "`stream` is for chat and messages items, not \(endpoint.name)")
            }
            // `"stream": true` in the body asks the same (as it would of the provider).
            let streamInBody = request["stream"]?.boolValue ?? false
            return .success(Item(key: key, provider: provider, request: request, timeoutSeconds: timeout,
                                 maxRetries: retries, format: format ?? .openai, includeRaw: raw ?? false,
                                 stream: endpoint == .chat || endpoint == .messages ? stream ?? streamInBody : false,
                                 endpoint: endpoint))
        } catch {
            return .failure(error)
        }
    }

    /// The members an item may have, in the order the protocol lists them.
    static let fields = ["key", "provider", "request", "timeout", "max_retries", "format", "raw", "stream", "endpoint", "path"]

    /// The `key` of a possibly malformed item, for echoing in its outcome.
    public static func key(of value: JSONValue) -> String? {
        value["key"]?.stringValue
    }
}
