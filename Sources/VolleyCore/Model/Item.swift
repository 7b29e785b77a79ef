/// One call of a batch, validated.
public struct Item: Sendable {
    /// How the item's `request` body is interpreted.
    public enum Format: String, Sendable {
        /// An OpenAI chat-completions body, translated for other providers.
        case openai
        /// The provider's own body, sent unchanged.
        case native
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

    public init(
        key: String? = nil,
        provider: String? = nil,
        request: JSONObject,
        timeoutSeconds: Double? = nil,
        maxRetries: Int? = nil,
        format: Format = .openai,
        includeRaw: Bool = false
    ) {
        self.key = key
        self.provider = provider
        self.request = request
        self.timeoutSeconds = timeoutSeconds
        self.maxRetries = maxRetries
        self.format = format
        self.includeRaw = includeRaw
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
        var item = Item(request: [:])
        if let key = object["key"], !key.isNull {
            guard let text = key.stringValue else {
                return .failure(ItemError(.invalidRequest, "`key` must be a string"))
            }
            item.key = text
        }
        if let provider = object["provider"], !provider.isNull {
            guard let name = provider.stringValue else {
                return .failure(ItemError(.invalidRequest, "`provider` must be a string"))
            }
            item.provider = name
        }
        guard case .object(let request)? = object["request"] else {
            return .failure(ItemError(.invalidRequest, "`request` is required and must be an object"))
        }
        item.request = request
        if let timeout = object["timeout"], !timeout.isNull {
            guard let seconds = timeout.doubleValue, seconds > 0, seconds.isFinite else {
                return .failure(ItemError(.invalidRequest, "`timeout` must be a positive number of seconds"))
            }
            item.timeoutSeconds = seconds
        }
        if let retries = object["max_retries"], !retries.isNull {
            guard let count = retries.intValue, count >= 0, count <= 100 else {
                return .failure(ItemError(.invalidRequest, "`max_retries` must be an integer from 0 to 100"))
            }
            item.maxRetries = count
        }
        if let format = object["format"], !format.isNull {
            guard let text = format.stringValue, let parsed = Format(rawValue: text) else {
                return .failure(ItemError(.invalidRequest, "`format` must be \"openai\" or \"native\""))
            }
            item.format = parsed
        }
        if let raw = object["raw"], !raw.isNull {
            guard let flag = raw.boolValue else {
                return .failure(ItemError(.invalidRequest, "`raw` must be a boolean"))
            }
            item.includeRaw = flag
        }
        return .success(item)
    }

    /// The `key` of a possibly malformed item, for echoing in its outcome.
    public static func key(of value: JSONValue) -> String? {
        value["key"]?.stringValue
    }
}
