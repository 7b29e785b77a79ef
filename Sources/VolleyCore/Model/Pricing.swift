import VolleySystem

/// What a model costs, in US dollars per million tokens.
public struct ModelPrice: Sendable, Hashable {
    public var input: Double
    public var output: Double
    /// Input tokens the provider served from its prompt cache (nil: billed as input).
    public var cachedInput: Double?
    /// Dollars per call on top of the tokens (a gateway's or a hosted tool's fee), if any.
    public var perRequest: Double

    public init(input: Double, output: Double, cachedInput: Double? = nil, perRequest: Double = 0) {
        self.input = input
        self.output = output
        self.cachedInput = cachedInput
        self.perRequest = perRequest
    }

    /// The cost of `usage`, in dollars: cached input tokens at `cached_input` (at `input`
    /// when the model has no cached price), the rest of the input at `input`.
    public func cost(_ usage: Usage) -> Double {
        let cached = Double(min(max(0, usage.cachedInputTokens), max(0, usage.inputTokens)))
        let fresh = Double(usage.inputTokens) - cached
        return (fresh * input + cached * (cachedInput ?? input) + Double(usage.outputTokens) * output) / 1_000_000 + perRequest
    }

    /// `{"input": 0.15, "output": 0.6, "cached_input": 0.075, "per_request": 0.01}` (the last in
    /// dollars per call).
    public init(json: JSONValue, path: String) throws(ConfigError) {
        guard case .object(let object) = json else { throw ConfigError("\(path) must be an object {input, output, cached_input, per_request}") }
        if let unknown = object.keys.sorted().first(where: { !["input", "output", "cached_input", "per_request"].contains($0) }) {
            throw ConfigError("\(path).\(unknown) is not a price (input, output, cached_input: dollars per million tokens; per_request: dollars per call)")
        }
        func price(_ name: String, required: Bool) throws(ConfigError) -> Double? {
            guard let value = object[name], !value.isNull else {
                if required { throw ConfigError("\(path).\(name) is required (dollars per million tokens)") }
                return nil
            }
            guard let number = value.doubleValue, number >= 0, number.isFinite else {
                throw ConfigError("\(path).\(name) must be a number of dollars per million tokens, 0 or more")
            }
            return number
        }
        self.init(input: try price("input", required: true) ?? 0, output: try price("output", required: false) ?? 0,
                  cachedInput: try price("cached_input", required: false), perRequest: try price("per_request", required: false) ?? 0)
    }
}

/// Prices by model name: the table shipped with Volley (dated), replaced or extended by a
/// `--pricing FILE`, and per provider by `models.<name>.price` in its configuration. A model is
/// found by its exact name, else by the longest known name it starts with followed by `-` (so
/// the dated snapshot a provider reports, `gpt-4o-mini-2024-07-18`, finds `gpt-4o-mini`). An
/// unknown model has no price: its cost is null, never a guess.
public struct Pricing: Sendable, Hashable {
    public var date: String?
    public var models: [String: ModelPrice]

    public init(date: String? = nil, models: [String: ModelPrice] = [:]) {
        self.date = date
        self.models = models
    }

    public func price(of model: String) -> ModelPrice? {
        if let exact = models[model] { return exact }
        // The names `model` starts with followed by `-` are exactly its parts before each `-`:
        // looked up from the longest, a few hashes rather than a string built and compared for
        // every model in the table (which cost ~2 µs a call when it ran once per outcome).
        let utf8 = model.utf8
        var end = utf8.endIndex
        while let dash = utf8[..<end].lastIndex(of: UInt8(ascii: "-")) {
            if let price = models[String(model[..<dash])] { return price }
            end = dash
        }
        return nil
    }

    /// The price of the first of the two models (either may be nil: the model a reply names,
    /// then the one asked for) that `own` (a provider's `models.<name>.price`) prices, else the
    /// first this table prices.
    public func price(of first: String?, _ second: String? = nil, own: Pricing?) -> ModelPrice? {
        if let own, let price = own.firstPrice(first, second) { return price }
        return firstPrice(first, second)
    }

    private func firstPrice(_ first: String?, _ second: String?) -> ModelPrice? {
        if let first, let price = price(of: first) { return price }
        if let second, let price = price(of: second) { return price }
        return nil
    }

    /// This table with `other`'s models added (and replacing any of the same name).
    public func merging(_ other: Pricing) -> Pricing {
        Pricing(date: other.date ?? date, models: models.merging(other.models) { _, new in new })
    }

    /// A pricing file: `{"date": "2026-06-01", "replace": false, "models": {"NAME": {"input", "output", "cached_input"}}}`.
    /// Returns the table and whether it replaces the shipped one (else it extends it).
    public static func parse(_ bytes: [UInt8], path: String) throws(ConfigError) -> (Pricing, replaces: Bool) {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw ConfigError("\(path): invalid JSON: \(error.message)")
        }
        guard case .object(let object) = json, case .object(let models)? = object["models"] else {
            throw ConfigError("\(path): expected {\"date\": ..., \"models\": {\"NAME\": {\"input\": ..., \"output\": ...}}}")
        }
        var pricing = Pricing(date: object["date"]?.stringValue)
        for (name, price) in models {
            pricing.models[name] = try ModelPrice(json: price, path: "\(path): models.\(name)")
        }
        return (pricing, object["replace"]?.boolValue ?? false)
    }

    /// The shipped table with the pricing file at `path` (read and parsed) added, or replacing
    /// it when the file says `"replace": true`; the shipped table when `path` is nil.
    public static func load(path: String?) throws(ConfigError) -> Pricing {
        guard let path else { return shipped }
        let bytes: [UInt8]
        do {
            bytes = try readFile(atPath: path)
        } catch {
            throw ConfigError("--pricing \(path): cannot read: \(error)")
        }
        let (table, replaces) = try parse(bytes, path: "--pricing \(path)")
        return replaces ? table : shipped.merging(table)
    }

    /// List prices in dollars per million tokens, as the providers' pricing pages gave them on
    /// the date below. Prices change: check them, and override or replace them with
    /// `--pricing FILE` or a provider's `models.<name>.price`.
    public static let shipped = Pricing(date: "2026-06-21", models: [
        "gpt-4o": ModelPrice(input: 2.50, output: 10.00, cachedInput: 1.25),
        "gpt-4o-mini": ModelPrice(input: 0.15, output: 0.60, cachedInput: 0.075),
        "gpt-4.1": ModelPrice(input: 2.00, output: 8.00, cachedInput: 0.50),
        "gpt-4.1-mini": ModelPrice(input: 0.40, output: 1.60, cachedInput: 0.10),
        "gpt-4.1-nano": ModelPrice(input: 0.10, output: 0.40, cachedInput: 0.025),
        "text-embedding-3-small": ModelPrice(input: 0.02, output: 0),
        "text-embedding-3-large": ModelPrice(input: 0.13, output: 0),
        "claude-3-5-haiku": ModelPrice(input: 0.80, output: 4.00, cachedInput: 0.08),
        "claude-sonnet-4": ModelPrice(input: 3.00, output: 15.00, cachedInput: 0.30),
        "claude-opus-4": ModelPrice(input: 15.00, output: 75.00, cachedInput: 1.50),
    ])
}
