import Testing
@testable import VolleyCore

struct ItemParsingTests {
    @Test func parsesEveryField() throws {
        let value: JSONValue = [
            "key": "doc-1", "provider": "openai", "timeout": 2.5, "max_retries": 1, "format": "native", "raw": true,
            "request": ["model": "gpt-4o-mini", "messages": []],
        ]
        let item = try Item.parse(value).get()
        #expect(item.key == "doc-1" && item.provider == "openai" && item.model == "gpt-4o-mini")
        #expect(item.timeoutSeconds == 2.5 && item.maxRetries == 1 && item.format == .native && item.includeRaw)
    }

    @Test(arguments: [
        (JSONValue.string("x"), "object"),
        (["request": "x"], "request"),
        (["key": 5, "request": [:]], "key"),
        (["timeout": -1, "request": [:]], "timeout"),
        (["max_retries": 1.5, "request": [:]], "max_retries"),
        (["format": "xml", "request": [:]], "format"),
        (["timout": 0.1, "request": [:]], "unknown item field `timout`"),
        (["max_retires": 0, "request": [:]], "unknown item field `max_retires`"),
    ] as [(JSONValue, String)])
    func malformedItemsAreInvalidRequestNamingTheField(_ value: JSONValue, _ field: String) {
        guard case .failure(let error) = Item.parse(value) else {
            Issue.record("accepted \(value)")
            return
        }
        #expect(error.kind == .invalidRequest)
        #expect(error.message.contains(field))
    }

    @Test func nullMembersAreAbsentAndTheFirstProblemIsReported() throws {
        let item = try Item.parse(["key": .null, "timeout": .null, "format": .null, "raw": .null,
                                   "max_retries": .null, "provider": .null, "request": [:]]).get()
        #expect(item.key == nil && item.timeoutSeconds == nil && item.maxRetries == nil)
        #expect(item.format == .openai && !item.includeRaw && item.provider == nil)
        let messages = [
            (["key": 1, "timeout": 0, "request": [:]] as JSONValue, "`key` must be a string"),
            (["provider": true, "request": "x"], "`provider` must be a string"),
            (["timeout": .number(JSONNumber(Double.infinity) ?? 0), "request": "x"], "`request` is required and must be an object"),
            (["timeout": 0, "max_retries": 101, "request": [:]], "`timeout` must be a positive number of seconds"),
            (["max_retries": 101, "request": [:]], "`max_retries` must be an integer from 0 to 100"),
            (["format": 1, "request": [:]], "`format` must be \"openai\" or \"native\""),
            (["raw": "yes", "request": [:]], "`raw` must be a boolean"),
        ]
        for (value, message) in messages {
            guard case .failure(let error) = Item.parse(value) else {
                Issue.record("accepted \(value)")
                continue
            }
            #expect(error.message == message)
        }
    }
}

struct ProviderSetTests {
    @Test func environmentGivesMockAlwaysAndOpenAIWithAKey() {
        let none = ProviderSet.fromEnvironment([:])
        #expect(Set(none.providers.keys) == ["mock"])
        #expect(none.defaultName == nil, "the mock is never a silent default")
        let openai = ProviderSet.fromEnvironment(["OPENAI_API_KEY": "sk-test"])
        #expect(Set(openai.providers.keys) == ["mock", "openai"])
        #expect(openai.defaultName == "openai")
        #expect(openai.providers["openai"]?.apiKey == "sk-test")
        let both = ProviderSet.fromEnvironment(["OPENAI_API_KEY": "a", "ANTHROPIC_API_KEY": "b"])
        #expect(both.defaultName == nil)
        if case .success = both.resolve(nil) { Issue.record("ambiguous default resolved") }
    }

    @Test func addingAProviderKeepsTheDefaultInForce() throws {
        var set = ProviderSet.fromEnvironment(["OPENAI_API_KEY": "sk-a"])
        #expect(set.defaultName == "openai")
        // A second real provider would leave no derived default: the one in force stays.
        let warnings = try set.merge(["claude": ["kind": "anthropic", "api_key": "k"]], defaultProvider: nil, environment: [:])
        #expect(warnings.isEmpty)
        #expect(set.defaultName == "openai")
        // Only a call that sets one changes it.
        try set.merge(nil, defaultProvider: "claude", environment: [:])
        #expect(set.defaultName == "claude")
        try set.merge(["third": ["kind": "openai", "api_key": "k"]], defaultProvider: nil, environment: [:])
        #expect(set.defaultName == "claude")
    }

    @Test func aProviderWithoutAKeyIsWarnedAbout() throws {
        var set = ProviderSet()
        let warnings = try set.merge([
            "gw": ["kind": "openai", "api_key_env": "GW_KEY"],
            "claude": ["kind": "anthropic"],
            "fake": ["kind": "mock"],
            "ok": ["kind": "openai", "api_key": "sk-secret"],
        ], defaultProvider: nil, environment: [:])
        #expect(warnings == [
            #"provider "claude" has no API key (ANTHROPIC_API_KEY is not set in volley's environment): its requests go out without one"#,
            #"provider "gw" has no API key (GW_KEY is not set in volley's environment): its requests go out without one"#,
        ])
        #expect(!warnings.joined().contains("sk-secret"))
        // The whole set says the same, for a --config file read at start-up.
        #expect(set.keyWarnings == warnings)
    }

    @Test func withoutAKeyTheErrorSaysWhatToSet() {
        let none = ProviderSet.fromEnvironment([:])
        guard case .failure(let unnamed) = none.resolve(nil) else {
            Issue.record("an item naming no provider went to the mock")
            return
        }
        #expect(unnamed.message.contains("OPENAI_API_KEY") && unnamed.message.contains("ANTHROPIC_API_KEY"))
        #expect(unnamed.message.contains(#""provider": "mock""#))
        guard case .failure(let openai) = none.resolve("openai") else {
            Issue.record("openai resolved without a key")
            return
        }
        #expect(openai.message.contains("OPENAI_API_KEY is not set"), "\(openai.message)")
        guard case .failure(let anthropic) = none.resolve("anthropic") else { return }
        #expect(anthropic.message.contains("ANTHROPIC_API_KEY is not set"), "\(anthropic.message)")
        guard case .failure(let other) = none.resolve("nope") else { return }
        #expect(other.message == #"unknown provider "nope"; configured: mock"#)
        // Named, or made the default, the mock runs.
        #expect((try? none.resolve("mock").get())?.kind == .mock)
        var chosen = none
        #expect(throws: Never.self) { try chosen.merge(nil, defaultProvider: "mock", environment: [:]) }
        #expect((try? chosen.resolve(nil).get())?.kind == .mock)
    }

    @Test func mergeParsesLimitsRetryAndModelOverrides() throws {
        var set = ProviderSet()
        let config: JSONValue = [
            "fake": [
                "kind": "openai", "base_url": "http://127.0.0.1:9/v1/", "api_key_env": "FAKE_KEY",
                "limits": ["concurrency": 4, "rpm": 100], "retry": ["max_retries": 5, "initial_delay": 0.1],
                "timeouts": ["connect": 1, "request": 30], "headers": ["x-team": "a"],
                "models": ["big": ["limits": ["rpm": 10]]],
            ],
        ]
        try set.merge(config, defaultProvider: "fake", environment: ["FAKE_KEY": "secret"])
        let fake = try set.resolve(nil).get()
        #expect(fake.baseURL == "http://127.0.0.1:9/v1")
        #expect(fake.apiKey == "secret")
        #expect(fake.limits.concurrency == 4 && fake.limits.rpm == 100 && fake.limits.tpm == nil)  // No default tpm: learned from headers.
        #expect(fake.limits(for: "big").rpm == 10 && fake.limits(for: "big").concurrency == 4)
        #expect(fake.retry.maxRetries == 5 && fake.retry.initialDelaySeconds == 0.1)
        #expect(fake.connectTimeoutSeconds == 1 && fake.requestTimeoutSeconds == 30)
        #expect(fake.headers.first?.0 == "x-team")
        #expect(set.providers["mock"] != nil)
    }

    @Test func adaptiveLimitFieldsAndTheWaitBudgetAreParsed() throws {
        var set = ProviderSet()
        let config: JSONValue = [
            "gw": [
                "kind": "openai", "api_key": "k",
                "limits": ["rpm": 600, "burst": 5, "token_burst": 2_000, "tpm": 60_000, "adaptive": false],
                "retry": ["max_wait": 30],
                "models": ["m": ["limits": ["burst": 1, "adaptive": true]]],
            ],
            "bare": ["kind": "openai", "api_key": "k"],
        ]
        try set.merge(config, defaultProvider: "gw", environment: [:])
        let gw = try #require(set.providers["gw"])
        #expect(gw.limits.burst == 5 && gw.limits.tokenBurst == 2_000 && gw.limits.adaptive == false)
        #expect(gw.limits(for: "m").burst == 1 && gw.limits(for: "m").adaptive == true && gw.limits(for: "m").rpm == 600)
        #expect(gw.retry.maxWaitSeconds == 30)
        #expect(gw.configuresRateOrConcurrency(for: "m"))
        // Nothing configured: the limit is unknown (slow start), and there is no wait budget.
        let bare = try #require(set.providers["bare"])
        #expect(!bare.configuresRateOrConcurrency(for: "any") && bare.retry.maxWaitSeconds == nil)
    }

    @Test(arguments: [
        (["p": ["kind": "nope"]] as JSONValue, "kind"),
        (["p": ["kind": "openai", "base_url": "ftp://x"]], "base_url"),
        (["p": ["kind": "openai", "limits": ["rpm": 0]]], "rpm"),
        (["p": ["kind": "openai", "bogus": 1]], "bogus"),
        (["p": ["kind": "openai", "headers": ["a": "b\nc"]]], "headers"),
        (["p": ["kind": "openai", "limits": ["burst": 0]]], "burst"),
        (["p": ["kind": "openai", "limits": ["adaptive": "yes"]]], "adaptive"),
        (["p": ["kind": "openai", "retry": ["max_wait": -1]]], "max_wait"),
        (["p": ["kind": "openai", "retry": ["max_wiat": 5]]], "max_wiat"),
    ] as [(JSONValue, String)])
    func badConfigurationIsRejectedNamingTheFieldAndChangesNothing(_ config: JSONValue, _ field: String) {
        var set = ProviderSet()
        #expect {
            try set.merge(config, defaultProvider: nil, environment: [:])
        } throws: { error in
            (error as? ConfigError)?.message.contains(field) == true
        }
        #expect(Set(set.providers.keys) == ["mock"])
    }

    @Test func unknownDefaultProviderIsRejected() {
        var set = ProviderSet()
        #expect(throws: ConfigError.self) { try set.merge(nil, defaultProvider: "nope", environment: [:]) }
    }
}

/// An API key never splits the header it goes in: trimmed of surrounding whitespace (a CRLF
/// file's `\r`), refused with a control character inside, and never shown.
struct APIKeyHeaderSafetyTests {
    @Test func surroundingWhitespaceIsTrimmedAndInnerControlCharactersAreRefused() throws {
        #expect(ProviderConfig.headerSafeKey("sk-abc\r\n") == "sk-abc")
        #expect(ProviderConfig.headerSafeKey("  sk-abc\t") == "sk-abc")
        #expect(ProviderConfig.headerSafeKey("sk-abc\r\nx-injected: 1") == nil)
        #expect(ProviderConfig.headerSafeKey("sk\u{7F}x") == nil && ProviderConfig.headerSafeKey(" \r\n") == nil)
        var set = ProviderSet()
        try set.merge(["p": ["kind": "openai", "api_key_env": "K"]], defaultProvider: nil, environment: ["K": "sk-crlf\r\n"])
        #expect(set.providers["p"]?.apiKey == "sk-crlf")
        for config: JSONValue in [["kind": "openai", "api_key_env": "K"], ["kind": "openai", "api_key": "sk-a\nb: c"]] {
            var other = ProviderSet()
            do {
                try other.merge(["p": config], defaultProvider: nil, environment: ["K": "sk-secret-a\r\nb: c"])
                Issue.record("a key with a line break inside was accepted")
            } catch {
                #expect(error.message.contains("control character") && !error.message.contains("sk-"), "\(error.message)")
            }
        }
        let fromEnvironment = ProviderSet.fromEnvironment(["OPENAI_API_KEY": "sk-x\ny"])
        #expect(fromEnvironment.providers["openai"]?.apiKey == nil)
        #expect(fromEnvironment.keyWarnings.first?.contains("OPENAI_API_KEY holds a control character") == true)
    }
}
