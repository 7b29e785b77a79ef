import Testing
@testable import VolleyCore

/// Limiters belong to the API key, not to a provider's name (issue 15.1): which items share a
/// limiter, under which settings, and that no key material reaches its name or `stats`.
struct LimiterIdentityTests {
    static let key = "sk-shared-0123456789abcdef"

    private func set(_ providers: JSONValue, environment: [String: String] = [:]) throws -> ProviderSet {
        var set = ProviderSet()
        try set.merge(providers, defaultProvider: nil, environment: environment)
        return set
    }

    private func provider(_ key: String? = LimiterIdentityTests.key, url: String = "https://api.example.com/v1",
                          limits: JSONValue = ["concurrency": 1]) -> JSONValue {
        var object: JSONObject = ["kind": "openai", "base_url": .string(url), "limits": limits]
        if let key { object["api_key"] = .string(key) }
        return .object(object)
    }

    private func assignment(_ table: LimiterTable, _ set: ProviderSet, _ name: String, _ model: String? = "m") throws -> LimiterAssignment {
        let config = try #require(set.providers[name])
        return table.assignment(for: config, model: model)
    }

    @Test func originIsSchemeHostAndPortOfTheBaseURL() {
        #expect(ProviderConfig.origin(of: "https://api.openai.com/v1") == "https://api.openai.com:443")
        #expect(ProviderConfig.origin(of: "HTTPS://API.OpenAI.com:443/v1/") == "https://api.openai.com:443")
        #expect(ProviderConfig.origin(of: "http://localhost:8080/v1?x=1") == "http://localhost:8080")
        #expect(ProviderConfig.origin(of: "http://localhost") == "http://localhost:80")
        #expect(ProviderConfig.origin(of: "http://user:pw@gw.local:81/v1") == "http://gw.local:81")
        #expect(ProviderConfig.origin(of: "http://[::1]:9000/v1") == "http://[::1]:9000")
        #expect(ProviderConfig.origin(of: "http://[::1]/v1") == "http://[::1]:80")
    }

    @Test func twoNamesOneKeyOneOriginShareOneLimiter() throws {
        let set = try set(["b": provider(url: "https://api.example.com/v1"),
                           "a": provider(url: "https://API.example.com:443/v1/")])
        let table = LimiterTable(set)
        let a = try assignment(table, set, "a"), b = try assignment(table, set, "b")
        #expect(a == b)
        // Named after the first provider by name, as a lone provider's limiter always was.
        #expect(a.name == "a/m")
        #expect(a.settings.providers == ["a", "b"])
        #expect(try assignment(table, set, "b", nil).name == "a")
        #expect(table.identity(provider: "a", model: "m") == table.identity(provider: "b", model: "m"))
        // Another model is another limiter.
        #expect(try assignment(table, set, "b", "other").name == "a/other")
    }

    @Test func sharedLimiterIsOneConcurrencyBudget() throws {
        // Concurrency 1 on each provider: an item of b waits for the item of a to end.
        let set = try set(["a": provider(), "b": provider()])
        let table = LimiterTable(set)
        let a = try assignment(table, set, "a"), b = try assignment(table, set, "b")
        var core = SchedulerCore()
        #expect(core.add(1, batch: 1, limiter: a.name, a.settings) == [1])
        #expect(core.add(2, batch: 2, limiter: b.name, b.settings) == [])
        #expect(core.add(3, batch: 2, limiter: b.name, b.settings) == [])
        #expect(core.done(a.name) == [2])
        #expect(core.done(b.name) == [3])
        #expect(core.snapshot(now: 0).keys.sorted() == ["a/m"])
    }

    @Test func differentKeysOriginsOrMocksDoNotShare() throws {
        let set = try set([
            "a": provider("sk-one"), "b": provider("sk-two"),
            "c": provider("sk-one", url: "https://other.example.com/v1"),
            "m1": ["kind": "mock"], "m2": ["kind": "mock"],
        ])
        let table = LimiterTable(set)
        let names = try ["a", "b", "c", "m1", "m2"].map { try assignment(table, set, $0).name }
        #expect(names == ["a/m", "b/m", "c/m", "m1/m", "m2/m"])
        #expect(try assignment(table, set, "a").settings.providers == ["a"])
        var core = SchedulerCore()
        let a = try assignment(table, set, "a"), b = try assignment(table, set, "b")
        #expect(core.add(1, limiter: a.name, a.settings) == [1])
        #expect(core.add(2, limiter: b.name, b.settings) == [2])
    }

    @Test func keylessProvidersAreIdentifiedByOrigin() throws {
        let set = try set([
            "local1": provider(nil, url: "http://localhost:8000/v1"),
            "local2": provider(nil, url: "http://127.0.0.1:8000/v1"),
            "local3": provider(nil, url: "http://localhost:8000/v2"),
            "keyed": provider("sk-x", url: "http://localhost:8000/v1"),
        ])
        let table = LimiterTable(set)
        #expect(try assignment(table, set, "local3").name == "local1/m")
        #expect(try assignment(table, set, "local1").settings.providers == ["local1", "local3"])
        // Another host name is another origin (Volley does not resolve names), a key another budget.
        #expect(try assignment(table, set, "local2").name == "local2/m")
        #expect(try assignment(table, set, "keyed").name == "keyed/m")
    }

    @Test func keyFromTheEnvironmentAndInlineKeyAreTheSameKey() throws {
        let set = try set(["env": ["kind": "openai", "base_url": "https://api.example.com/v1", "api_key_env": "K"],
                           "inline": provider()], environment: ["K": Self.key])
        let table = LimiterTable(set)
        #expect(try assignment(table, set, "inline") == assignment(table, set, "env"))
    }

    @Test func strictestLimitsWinWhicheverProviderAnItemNames() throws {
        let set = try set([
            "a": provider(limits: ["concurrency": 8, "rpm": 600, "burst": 5, "adaptive": false]),
            "b": ["kind": "anthropic", "base_url": "https://api.example.com", "api_key": .string(Self.key),
                  "limits": ["concurrency": 16, "rpm": 1_000, "tpm": 50_000],
                  "retry": ["max_retry_after": 300],
                  "models": ["m": ["limits": ["concurrency": 4, "itpm": 20_000]]]],
        ])
        let table = LimiterTable(set)
        let a = try assignment(table, set, "a"), b = try assignment(table, set, "b")
        #expect(a == b)
        let settings = a.settings
        #expect(settings.concurrency == 4)
        #expect(settings.rpm == 600)
        #expect(settings.tpm == 50_000)
        #expect(settings.itpm == 20_000)
        #expect(settings.otpm == nil)
        #expect(settings.burst == 5)
        #expect(settings.refundsUnusedTokens == false)  // a is openai: no refunds
        #expect(settings.adaptive == true)
        #expect(settings.slowStart == false)
        #expect(settings.maxRetryAfter == 300)
        // Another model of b: b's provider-wide concurrency, still the smaller of the two.
        #expect(try assignment(table, set, "b", "n").settings.concurrency == 8)
    }

    @Test func strictestIsTheSameInAnyOrder() {
        let x = LimiterSettings(concurrency: 8, rpm: 600, tpm: nil, burst: nil, adaptive: true, slowStart: true, providers: ["x"])
        let y = LimiterSettings(concurrency: 4, rpm: nil, tpm: 9_000, burst: 3, adaptive: false, slowStart: false, providers: ["y"])
        let z = LimiterSettings(concurrency: 6, rpm: 900, tpm: 6_000, maxRetryAfter: 30, barePause: 2, providers: ["z"])
        let merged = LimiterSettings.strictest([x, y, z])
        #expect(LimiterSettings.strictest([z, y, x]) == merged)
        #expect(LimiterSettings.strictest([y, x, z]) == merged)
        #expect(merged == LimiterSettings(concurrency: 4, rpm: 600, tpm: 6_000, burst: 3, adaptive: true, slowStart: false,
                                          maxRetryAfter: 120, barePause: 2, providers: ["x", "y", "z"]))
    }

    @Test func engineGivesEveryItemOfTheIdentityTheSameLimiter() async throws {
        let engine = try Engine(maxConnectionsPerHost: 1, environment: ["K": Self.key])
        try engine.configure(providers: [
            "b": ["kind": "openai", "base_url": "https://api.example.com/v1", "api_key_env": "K", "limits": ["concurrency": 2]],
            "a": provider(limits: ["concurrency": 3]),
        ], defaultProvider: nil)
        let requests: [JSONValue] = ["a", "b", "a", "b"].map {
            ["provider": .string($0), "request": ["model": "m", "messages": [["role": "user", "content": "hi"]]]]
        }
        let prepared = try engine.prepare(requests).get()
        let limiters = try prepared.map { item -> LimiterAssignment in
            guard case .success(let work) = item.work else { throw HarnessFailure() }
            return work.limiter
        }
        #expect(Set(limiters.map(\.name)) == ["a/m"])
        #expect(Set(limiters.map(\.settings)).count == 1)
        #expect(limiters[0].settings.concurrency == 2)
        // A reconfiguration that gives b its own key splits the limiter.
        try engine.configure(providers: ["b": provider("sk-other")], defaultProvider: nil)
        let again = try engine.prepare(requests).get().map { item -> String in
            guard case .success(let work) = item.work else { throw HarnessFailure() }
            return work.limiter.name
        }
        #expect(again == ["a/m", "b/m", "a/m", "b/m"])
        await engine.shutdown()
    }

    @Test func addingAProviderOnASharedKeyDoesNotRenameItsLimiter() throws {
        let before = try set(["zed": provider()])
        let first = LimiterTable(before)
        #expect(try assignment(first, before, "zed").name == "zed/m")
        let after = try set(["zed": provider(), "alpha": provider()])
        let second = LimiterTable(after, previous: first)
        // Running batches of zed and new ones of alpha and zed: one limiter, one name.
        #expect(try assignment(second, after, "alpha").name == "zed/m")
        #expect(try assignment(second, after, "alpha").settings.providers == ["alpha", "zed"])
        // Without history, the first by name.
        #expect(try assignment(LimiterTable(after), after, "zed").name == "alpha/m")
        // Once zed leaves the key, the limiter is named after who is left.
        let moved = try set(["zed": provider("sk-other"), "alpha": provider()])
        let third = LimiterTable(moved, previous: second)
        #expect(try assignment(third, moved, "alpha").name == "alpha/m")
        #expect(try assignment(third, moved, "zed").name == "zed/m")
    }

    @Test func statsAndLimitChangesCarryNoKeyMaterial() throws {
        let set = try set(["a": provider(limits: ["concurrency": 2, "rpm": 600]), "b": provider()])
        let table = LimiterTable(set)
        let a = try assignment(table, set, "a"), b = try assignment(table, set, "b")
        var core = SchedulerCore()
        _ = core.add(1, limiter: a.name, a.settings)
        _ = core.add(2, limiter: b.name, b.settings)
        // A refusal makes the limiter note a change, as the log line `limits adapted` shows it.
        _ = core.release(limiter: a.name, reservedTokens: .zero, usedTokens: nil, refund: true, now: 0.5)
        let changes = core.takeChanges()
        #expect(!changes.isEmpty)
        #expect(changes.allSatisfy { $0.limiter == "a/m" })

        let stats = EngineStats(
            counters: EngineCounters(batchesActive: 0, completed: 0, failed: 0, cancelled: 0, retries: 0, rateLimited: 0,
                                     latencyP50Ms: nil, latencyP95Ms: nil, latencyP99Ms: nil, usageByModel: [:]),
            connectionsOpened: 0, connectionsReused: 0, uptimeSeconds: 1, limiters: core.snapshot(now: 1), providers: set)
        let json = stats.json
        let entry = try #require(json["limiters"]?["a/m"])
        #expect(entry["providers"] == ["a", "b"])
        #expect(entry["concurrency"]?.intValue == 1)
        #expect(json["limiters"]?.objectValue?.count == 1)
        let text = JSONValue.object(json).jsonString
        let digest = hexDigest(KeyFingerprint.sha256(KeyFingerprint.domain + Array(Self.key.utf8)))
        let plain = hexDigest(KeyFingerprint.sha256(Array(Self.key.utf8)))
        for secret in [Self.key, String(Self.key.suffix(12)), String(digest.prefix(8)), String(plain.prefix(8))] {
            #expect(!text.contains(secret))
            #expect(!a.name.contains(secret))
            #expect(!changes.map { "\($0)" }.joined().contains(secret))
        }
        #expect(!"\(try #require(table.identity(provider: "a", model: "m")))".contains(String(digest.prefix(8))))
    }

    private func hexDigest(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

private struct HarnessFailure: Error {}
