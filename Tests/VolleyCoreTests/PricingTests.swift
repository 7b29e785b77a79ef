import Testing
@testable import VolleyCore

/// Model prices and what a call cost: the shipped table, a pricing file, a provider's own
/// prices, and null for a model nobody priced.
struct PricingTests {
    @Test func aReportedSnapshotFindsItsModelAndTheLongestNameWins() {
        let pricing = Pricing.shipped
        #expect(pricing.price(of: "gpt-4o-mini-2024-07-18") == pricing.models["gpt-4o-mini"], "not gpt-4o's")
        #expect(pricing.price(of: "gpt-4o-2024-08-06") == pricing.models["gpt-4o"])
        #expect(pricing.price(of: "gpt-4o") == pricing.models["gpt-4o"])
        #expect(pricing.price(of: "gpt-4omni") == nil, "a prefix counts only up to a dash")
        #expect(pricing.price(of: "my-local-llama") == nil, "unknown: no guess")
        #expect(pricing.price(of: "gpt-4o-") == pricing.models["gpt-4o"], "a trailing dash still names gpt-4o")
        #expect(pricing.price(of: "-gpt-4o") == nil && pricing.price(of: "") == nil)
        #expect(Pricing(models: ["a-b": ModelPrice(input: 7, output: 0), "a": ModelPrice(input: 1, output: 0)])
            .price(of: "a-b-c-d")?.input == 7, "the longest name before a dash wins")
        // 1,000 in and 500 out at $0.15 / $0.60 a million.
        #expect(pricing.models["gpt-4o-mini"]?.cost(Usage(inputTokens: 1_000, outputTokens: 500)) == 0.00045)
    }

    @Test func theModelARepliedWithComesFirstAndAProvidersOwnTableBeforeTheShippedOne() {
        let pricing = Pricing.shipped
        let own = Pricing(models: ["gpt-4o": ModelPrice(input: 9, output: 9)])
        // The reply's model first, then the one asked for; a nil name is skipped.
        #expect(pricing.price(of: "gpt-4o-mini-2024-07-18", "gpt-4.1", own: nil) == pricing.models["gpt-4o-mini"])
        #expect(pricing.price(of: "a-model-nobody-prices", "gpt-4.1", own: nil) == pricing.models["gpt-4.1"])
        #expect(pricing.price(of: nil, "gpt-4.1", own: nil) == pricing.models["gpt-4.1"])
        #expect(pricing.price(of: nil, nil, own: own) == nil)
        // The provider's own table is searched for both names before the shipped one.
        #expect(pricing.price(of: "gpt-4o-mini", "gpt-4o-2024-08-06", own: own)?.input == 9)
        #expect(pricing.price(of: "gpt-4.1", own: own) == pricing.models["gpt-4.1"])
    }

    @Test func aPricingFileExtendsOrReplacesTheShippedTable() throws {
        let file = #"{"date": "2027-01-01", "models": {"my-model": {"input": 1, "output": 2}, "gpt-4o-mini": {"input": 0.1, "output": 0.2}}}"#
        let (extra, replaces) = try Pricing.parse(Array(file.utf8), path: "p.json")
        #expect(!replaces)
        let merged = Pricing.shipped.merging(extra)
        #expect(merged.date == "2027-01-01" && merged.price(of: "my-model")?.output == 2 && merged.price(of: "gpt-4o-mini")?.input == 0.1)
        #expect(merged.price(of: "gpt-4.1") != nil, "the rest of the shipped table stays")
        #expect(throws: ConfigError.self) { try Pricing.parse(Array(#"{"models": {"m": {"input": -1}}}"#.utf8), path: "p.json") }
        #expect(throws: ConfigError.self) { try Pricing.parse(Array(#"{"models": {"m": {"inptu": 1}}}"#.utf8), path: "p.json") }
    }

    @Test func aProvidersOwnPriceComesFirstTheMockIsFreeAndUnknownIsNull() throws {
        let config = try ProviderConfig.parse(name: "local", [
            "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "k",
            "models": ["gpt-4o-mini": ["price": ["input": 1, "output": 1]]],
        ], environment: [:])
        #expect(config.modelPrices.price(of: "gpt-4o-mini-2024-07-18")?.input == 1)
        #expect(throws: ConfigError.self) {
            try ProviderConfig.parse(name: "x", ["kind": "openai", "models": ["m": ["prize": ["input": 1]]]], environment: [:])
        }
    }

    @Test func cachedInputIsReadFromEachProvidersUsageAndPricedAtItsOwnPrice() throws {
        let openAI = try #require(Usage(reported: ["prompt_tokens": 2048, "completion_tokens": 10, "prompt_tokens_details": ["cached_tokens": 1920]]))
        #expect(openAI == Usage(inputTokens: 2048, outputTokens: 10, cachedInputTokens: 1920))
        let responses = try #require(Usage(reported: ["input_tokens": 2048, "output_tokens": 10, "input_tokens_details": ["cached_tokens": 1024]]))
        #expect(responses == Usage(inputTokens: 2048, outputTokens: 10, cachedInputTokens: 1024), "Responses counts cached tokens inside input_tokens")
        // Anthropic counts cache reads and writes apart from input_tokens.
        let anthropic = try #require(Usage(reported: ["input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 300]))
        #expect(anthropic == Usage(inputTokens: 2310, outputTokens: 5, cachedInputTokens: 2000))
        #expect(Usage(reported: ["total_tokens": 3]) == nil && Usage(reported: .null) == nil)
        // gpt-4o-mini: $0.15 input, $0.075 cached, $0.60 output a million.
        let price = try #require(Pricing.shipped.price(of: "gpt-4o-mini"))
        #expect(abs(price.cost(openAI) - (128 * 0.15 + 1920 * 0.075 + 10 * 0.60) / 1_000_000) < 1e-15)
        // A model without a cached price bills cached tokens as input.
        #expect(abs(ModelPrice(input: 1, output: 2).cost(openAI) - (2048 * 1 + 10 * 2) / 1_000_000) < 1e-15)
        // A per-call fee is added to the tokens' price.
        let fee = try ModelPrice(json: ["input": 1, "output": 2, "per_request": 0.01], path: "p")
        #expect(abs(fee.cost(Usage(inputTokens: 1_000_000, outputTokens: 0)) - 1.01) < 1e-12)
        #expect(throws: ConfigError.self) { try ModelPrice(json: ["input": 1, "per_call": 0.01], path: "p") }
        #expect(Usage(inputTokens: 5, outputTokens: 1, cachedInputTokens: 3).json == ["input_tokens": 5, "output_tokens": 1, "cached_input_tokens": 3])
        #expect(Usage(inputTokens: 5, outputTokens: 1).json == ["input_tokens": 5, "output_tokens": 1], "no cached field when none were cached")
    }
}

/// What a config file holds that other users must not read (the warning itself is tested
/// through the built binary in `CommandTests`).
struct ConfigSecretsTests {
    @Test func inlineKeysAndRedisPasswordsCountEnvironmentNamesDoNot() {
        func held(_ json: String) -> [String]? { ConfigSecrets.secrets(in: Array(json.utf8)) }
        #expect(held(#"{"providers": {"a": {"api_key": "sk-1"}, "b": {"api_key_env": "K"}, "c": {"api_key": ""}}}"#)
                == ["an API key (providers.a.api_key)"])
        #expect(held(#"{"shared_limits": {"redis_url": "redis://:pw@127.0.0.1:6379/0"}}"#) == ["a Redis password (shared_limits.redis_url)"])
        #expect(held(#"{"shared_limits": {"redis_url": "redis://127.0.0.1:6379", "password_env": "P"}}"#) == [])
        #expect(held(#"{"providers": {"mock": {"kind": "mock"}}}"#) == [])
        #expect(held("not json") == nil)
    }
}
