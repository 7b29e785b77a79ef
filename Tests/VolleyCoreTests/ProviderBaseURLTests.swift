import FakeLLM
import Testing
import VolleyTestSupport
@testable import VolleyCore
import VolleySystem

/// Base URLs in the ecosystem's conventions: Anthropic's without `/v1` (its SDK's form, and
/// `ANTHROPIC_BASE_URL`'s), OpenAI's with it, both read from the environment like the SDKs.
struct ProviderBaseURLTests {
    @Test(arguments: [
        ("https://api.anthropic.com", "https://api.anthropic.com/v1/messages"),
        ("https://api.anthropic.com/v1", "https://api.anthropic.com/v1/messages"),
        ("http://127.0.0.1:8080/gateway/anthropic", "http://127.0.0.1:8080/gateway/anthropic/v1/messages"),
        ("http://127.0.0.1:8080/gateway/anthropic/v1", "http://127.0.0.1:8080/gateway/anthropic/v1/messages"),
        // A host named v1 is not a path ending in /v1.
        ("https://v1", "https://v1/v1/messages"),
        ("https://proxy/v10", "https://proxy/v10/v1/messages"),
    ])
    func anthropicAppendsV1UnlessThePathEndsInIt(base: String, endpoint: String) throws {
        var set = ProviderSet()
        try set.merge(["a": ["kind": "anthropic", "base_url": .string(base + "/"), "api_key": "k"]],
                      defaultProvider: nil, environment: [:])
        #expect(set.providers["a"]?.endpointURL == endpoint)
    }

    @Test func openAIAppendsOnlyTheOperation() throws {
        var set = ProviderSet()
        try set.merge(["o": ["kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "k"]],
                      defaultProvider: nil, environment: [:])
        #expect(set.providers["o"]?.endpointURL == "http://127.0.0.1:9/v1/chat/completions")
    }

    @Test func defaultsAreEachSDKsOwn() {
        #expect(ProviderConfig(name: "a", kind: .anthropic).baseURL == "https://api.anthropic.com")
        #expect(ProviderConfig(name: "a", kind: .anthropic).endpointURL == "https://api.anthropic.com/v1/messages")
        #expect(ProviderConfig(name: "o", kind: .openai).endpointURL == "https://api.openai.com/v1/chat/completions")
    }

    @Test func environmentProvidersUseTheBaseURLVariables() {
        let set = ProviderSet.fromEnvironment([
            "OPENAI_API_KEY": "a", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1/",
            "ANTHROPIC_API_KEY": "b", "ANTHROPIC_BASE_URL": "http://127.0.0.1:10",
        ])
        #expect(set.providers["openai"]?.baseURL == "http://127.0.0.1:9/v1")
        #expect(set.providers["anthropic"]?.endpointURL == "http://127.0.0.1:10/v1/messages")
        // An empty variable is unset, as for the keys.
        let empty = ProviderSet.fromEnvironment(["OPENAI_API_KEY": "a", "OPENAI_BASE_URL": ""])
        #expect(empty.providers["openai"]?.baseURL == "https://api.openai.com/v1")
    }

    @Test func aBaseURLVariableAloneAddsNoProvider() {
        let set = ProviderSet.fromEnvironment(["OPENAI_BASE_URL": "http://127.0.0.1:9/v1"])
        #expect(Set(set.providers.keys) == ["mock"])
    }

    @Test func configuredProvidersDefaultToTheirKindsVariableAndExplicitWins() throws {
        let environment = ["OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "ANTHROPIC_BASE_URL": "http://127.0.0.1:10"]
        var set = ProviderSet()
        try set.merge([
            "gw": ["kind": "openai", "api_key": "k"],
            "explicit": ["kind": "openai", "api_key": "k", "base_url": "http://127.0.0.1:11/v1"],
            "claude": ["kind": "anthropic", "api_key": "k"],
            "fake": ["kind": "mock"],
        ], defaultProvider: nil, environment: environment)
        #expect(set.providers["gw"]?.baseURL == "http://127.0.0.1:9/v1")
        #expect(set.providers["explicit"]?.baseURL == "http://127.0.0.1:11/v1")
        #expect(set.providers["claude"]?.baseURL == "http://127.0.0.1:10")
        #expect(set.providers["fake"]?.baseURL == "mock://")
        // From a --config file too: the file names the providers, the environment their defaults.
        let file = try ProviderSet(configFile: Array(#"{"providers": {"o": {"kind": "openai", "api_key": "k"}}}"#.utf8),
                                   environment: environment)
        #expect(file.providers["o"]?.baseURL == "http://127.0.0.1:9/v1")
    }
}

/// The same rules over the wire: the fake server serves `/v1/messages` and
/// `/v1/chat/completions`, and every form of its base URL reaches them.
@Suite(.serialized, .tags(.timeSensitive)) struct ProviderBaseURLWireTests {
    @Test func everyFormOfTheBaseURLReachesTheServer() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        do {
            let root = server.baseURL
            // The env providers (OpenAI with /v1, Anthropic without, as the SDKs take them),
            // plus Anthropic in Volley's former /v1 form.
            let engine = try Engine(maxConnectionsPerHost: 2, environment: [
                "OPENAI_API_KEY": "sk-o", "OPENAI_BASE_URL": root + "/v1",
                "ANTHROPIC_API_KEY": "sk-a", "ANTHROPIC_BASE_URL": root,
            ])
            try engine.configure(providers: [
                "anthropic-v1": ["kind": "anthropic", "base_url": .string(root + "/v1/"), "api_key": "sk-b"],
            ], defaultProvider: nil)
            let requests: [JSONValue] = ["openai", "anthropic", "anthropic-v1"].map { provider in
                ["key": .string(provider), "provider": .string(provider),
                 "request": ["model": "m", "max_tokens": 8, "messages": [["role": "user", "content": "hello"]]]]
            }
            let failures = Locked<[String]>([])
            let summary = await engine.run(try engine.prepare(requests).get(), options: BatchOptions(concurrency: 1),
                                           onOutcome: { outcome in
                                               if let error = outcome.error { failures.withLock { $0.append(error.message) } }
                                           })
            #expect(summary.succeeded == 3, "\(failures.withLock { $0 })")
            // A record is written as its response ends, which may be just after the client has it.
            let paths = try await server.waitForStats { $0.records.count == 3 }.records.map(\.path)
            #expect(paths == ["/v1/chat/completions", "/v1/messages", "/v1/messages"])
            await engine.shutdown()
        } catch {
            try? await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }
}

/// Servers that speak OpenAI's API with quirks, covered by configuration (docs/protocol.md,
/// "Providers that speak OpenAI").
struct OpenAICompatibleTests {
    @Test func azureOpenAIKeyHeaderAndAPIVersionQuery() throws {
        let config = try ProviderConfig.parse(name: "azure", [
            "kind": "openai", "base_url": "https://res.openai.azure.com/openai/deployments/gpt-4o", "api_key": "azure-key",
            "api_key_header": "api-key", "query": ["api-version": "2024-10-21"],
        ], environment: [:])
        #expect(config.endpointURL == "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21")
        #expect(config.url(for: .embeddings) == "https://res.openai.azure.com/openai/deployments/gpt-4o/embeddings?api-version=2024-10-21")
        #expect(config.keyHeader?.name == "api-key" && config.keyHeader?.value == "azure-key", "the key as it is, no Bearer")
        let headers = config.requestHeaders(authorization: config.keyHeader)
        #expect(headers["api-key"] == "azure-key" && headers["authorization"] == nil)
    }

    @Test func queryValuesArePercentEncodedAndTheKindsOwnHeaderIsTheDefault() throws {
        let config = try ProviderConfig.parse(name: "x", [
            "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "k", "query": ["a b": "c&d=é"],
        ], environment: [:])
        #expect(config.endpointURL == "http://127.0.0.1:9/v1/chat/completions?a%20b=c%26d%3D%C3%A9")
        #expect(config.keyHeader?.name == "authorization" && config.keyHeader?.value == "Bearer k")
        #expect(throws: ConfigError.self) {
            try ProviderConfig.parse(name: "x", ["kind": "openai", "api_key_header": "bad header:"], environment: [:])
        }
    }
}
