import FakeLLM
import FakeLLMTestSupport
import Foundation
import Testing
import VolleyCore
import VolleyRedis
import VolleyTestSupport

/// A provider's `budget` (docs/protocol.md, "Costs"): what its key may spend through the
/// sidecar, across batches and, on a shared sidecar, across hosts; never more, whatever runs
/// at once.
@Suite("Provider budgets", .timeLimit(.minutes(2)), .tags(.endToEnd))
struct ProviderBudgetTests {
    /// gpt-4o: $2.50 in, $10 out a million. Each call: a few tokens in + 1,000 max out, so its
    /// worst case is ~$0.01001; it costs ~$0.009 (900 tokens out).
    static let dearItem: JSONValue = [
        "provider": "fake",
        "request": ["model": "gpt-4o", "messages": [["role": "user", "content": "hi"]], "max_tokens": 1_000,
                    "fake": ["output_tokens": 900, "latency_ms": 50]],
    ]

    static func costs(_ reply: JSONValue) -> (spent: Double, refused: [JSONValue]) {
        let results = reply["result"]?["results"]?.arrayValue ?? []
        return (results.compactMap { $0["cost_usd"]?.doubleValue }.reduce(0, +),
                results.filter { $0["error"]?["kind"] == "budget_exceeded" })
    }

    @Test("a day's budget holds across batches with 64 in flight; refused items never reach the server; stats shows it")
    func aBudgetHoldsAcrossBatches() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "sk-fake"]) { volley in
                let budget = 0.1005
                let providers = fakeProviders(server, extra: ["budget": ["max_cost_usd": .number(JSONNumber(budget) ?? 0), "per": "day"]])
                _ = try await volley.request("configure", id: "c", params: ["providers": providers])
                let first = try await volley.request("gather", id: "1", params: [
                    "requests": .array(Array(repeating: Self.dearItem, count: 64)), "concurrency": 64,
                ], timeout: 60)
                let (spentFirst, refusedFirst) = Self.costs(first)
                #expect(spentFirst <= budget && spentFirst > budget * 0.7, "spent \(spentFirst) of \(budget)")
                #expect(refusedFirst.count >= 50 && refusedFirst.allSatisfy { $0["attempts"] == 0 })
                let message = refusedFirst.first?["error"]?["message"]?.stringValue ?? ""
                #expect(message.contains("providers.fake.budget") && message.contains("in any 24 hours"), "\(message)")
                // A second batch, with no max_cost_usd of its own, spends only what is left.
                let second = try await volley.request("gather", id: "2", params: [
                    "requests": .array(Array(repeating: Self.dearItem, count: 16)), "concurrency": 16,
                ], timeout: 60)
                let (spentSecond, refusedSecond) = Self.costs(second)
                #expect(spentFirst + spentSecond <= budget, "spent \(spentFirst + spentSecond) of \(budget) in two batches")
                #expect(refusedSecond.count >= 15)
                let sent = server.stats().requests
                #expect(sent == 80 - refusedFirst.count - refusedSecond.count, "refused items stayed off the server: \(sent) sent")
                let stats = try await volley.request("stats", id: "s")["result"]?["providers"]?["fake"]?["budget"]
                #expect(stats?["max_cost_usd"]?.doubleValue == budget && stats?["per"] == "day")
                #expect(abs((stats?["spent_usd"]?.doubleValue ?? -1) - (spentFirst + spentSecond)) < 1e-7, "\(stats?.jsonString ?? "nil")")
                #expect(stats?["reserved_usd"]?.doubleValue == 0)
                // An unpriced model under a provider budget cannot be held to it: refused, not sent.
                let unpriced: JSONValue = ["provider": "fake", "request": ["model": "my-local-model", "messages": [["role": "user", "content": "hi"]]]]
                let other = try await volley.request("gather", id: "u", params: ["requests": [unpriced]])
                #expect(other["result"]?["results"]?[0]?["error"]?["message"]?.stringValue?.contains("no price") == true)
                #expect(server.stats().requests == sent)
            }
        }
    }

    @Test("on a shared sidecar two hosts on one key spend one budget, even the host that set none")
    func hostsOfASharedSidecarSpendOneBudget() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withPrivateDirectory { directory in
                let path = "\(directory)/volley.sock"
                let daemon = try await startDaemon(socket: path)
                defer { daemon.terminate() }
                let a = try SocketHost(socket: path), b = try SocketHost(socket: path)
                let budget = 0.1005
                func provider(_ extra: JSONObject) -> JSONValue {
                    var object: JSONObject = ["kind": "openai", "base_url": .string(server.baseURL + "/v1"), "api_key": "sk-same",
                                              "retry": ["max_retries": 0]]
                    for (key, value) in extra { object[key] = value }
                    return .object(object)
                }
                _ = try await a.request("configure", id: 1, params: ["providers": ["fake": provider(["budget": ["max_cost_usd": .number(JSONNumber(budget) ?? 0)]])]])
                _ = try await b.request("configure", id: 1, params: ["providers": ["fake": provider([:])]])
                try a.send(rpcRequest("gather", id: 2, params: ["requests": .array(Array(repeating: Self.dearItem, count: 32)), "concurrency": 32]))
                try b.send(rpcRequest("gather", id: 2, params: ["requests": .array(Array(repeating: Self.dearItem, count: 32)), "concurrency": 32]))
                let (spentA, refusedA) = Self.costs(try await a.response(to: 2, timeout: 60))
                let (spentB, refusedB) = Self.costs(try await b.response(to: 2, timeout: 60))
                #expect(spentA + spentB <= budget && spentA + spentB > budget * 0.7, "spent \(spentA) + \(spentB) of \(budget)")
                #expect(refusedA.count + refusedB.count >= 50)
                #expect(server.stats().requests == 64 - refusedA.count - refusedB.count)
                // b shows no budget of its own; a's shows what both spent.
                #expect(try await b.request("stats", id: 3)["result"]?["providers"]?["fake"]?["budget"] == nil)
                let shown = try await a.request("stats", id: 3)["result"]?["providers"]?["fake"]?["budget"]?["spent_usd"]?.doubleValue
                #expect(abs((shown ?? -1) - (spentA + spentB)) < 1e-7)
            }
        }
    }
}

/// A day budget kept in Redis: separate sidecars, as on separate machines, spend one budget per
/// key, and a sidecar that set no budget on the key still counts towards the ones that did.
@Suite("Provider budgets shared in Redis", .timeLimit(.minutes(2)), .tags(.endToEnd))
struct SharedProviderBudgetTests {
    static let budget = 0.1005

    static func provider(_ server: FakeLLMServer, budget: Double?) -> JSONValue {
        var extra: JSONObject = ["api_key": "sk-one-key-for-all"]
        if let budget { extra["budget"] = ["max_cost_usd": .number(JSONNumber(budget) ?? 0), "per": "day"] }
        return fakeProviders(server, extra: extra)
    }

    /// The day's dollars Redis holds as spent for the one account in it.
    static func spentInRedis(_ redis: RedisProcess) throws -> Double {
        let connection = try RedisConnection(RedisURL(redis.url))
        guard case .array(let names) = try connection.command(["KEYS", "volley:{budget-*}:spent"]), let name = names.first?.text else { return 0 }
        return Double(try connection.command(["HGET", name, "sum"]).text ?? "0") ?? 0
    }

    @Test("2 sidecars on one Redis, 32 calls each at once under one $0.10 day budget: together never more")
    func twoSidecarsSpendOneBudget() async throws {
        let redis = try RedisProcess()
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(arguments: ["--redis-url", redis.url]) { first in
                try await withVolley(arguments: ["--redis-url", redis.url]) { second in
                    for volley in [first, second] {
                        _ = try await volley.request("configure", id: "c", params: ["providers": Self.provider(server, budget: Self.budget)])
                    }
                    let items = JSONValue.array(Array(repeating: ProviderBudgetTests.dearItem, count: 32))
                    try first.send(rpcRequest("gather", id: 1, params: ["requests": items, "concurrency": 32]))
                    try second.send(rpcRequest("gather", id: 1, params: ["requests": items, "concurrency": 32]))
                    let (spentA, refusedA) = ProviderBudgetTests.costs(try await first.response(to: 1, timeout: 60))
                    let (spentB, refusedB) = ProviderBudgetTests.costs(try await second.response(to: 1, timeout: 60))
                    #expect(spentA + spentB <= Self.budget && spentA + spentB > Self.budget * 0.7, "spent \(spentA) + \(spentB)")
                    #expect(refusedA.count + refusedB.count >= 50)
                    #expect(server.stats().requests == 64 - refusedA.count - refusedB.count)
                    let message = (refusedA + refusedB).first?["error"]?["message"]?.stringValue ?? ""
                    #expect(message.contains("shared by every sidecar"), "\(message)")
                    let ready = await waitUntil("Redis has every settlement") { (try? Self.spentInRedis(redis)).map { abs($0 - (spentA + spentB)) < 1e-6 } ?? false }
                    #expect(ready, "Redis says \((try? Self.spentInRedis(redis)) ?? -1), the sidecars \(spentA + spentB)")
                }
            }
        }
    }

    @Test("a sidecar with no budget on the key spends; one with a budget then has only the rest")
    func spendingWithoutABudgetCounts() async throws {
        let redis = try RedisProcess()
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(arguments: ["--redis-url", redis.url]) { free in
                try await withVolley(arguments: ["--redis-url", redis.url]) { capped in
                    _ = try await free.request("configure", id: "c", params: ["providers": Self.provider(server, budget: nil)])
                    _ = try await capped.request("configure", id: "c", params: ["providers": Self.provider(server, budget: Self.budget)])
                    let five = JSONValue.array(Array(repeating: ProviderBudgetTests.dearItem, count: 5))
                    let (spentFree, refusedFree) = ProviderBudgetTests.costs(try await free.request("gather", id: 1, params: ["requests": five]))
                    #expect(refusedFree.isEmpty && spentFree > 0.04)
                    let known = await waitUntil("Redis has the free sidecar's spending") { ((try? Self.spentInRedis(redis)) ?? 0) >= spentFree - 1e-6 }
                    #expect(known)
                    let items = JSONValue.array(Array(repeating: ProviderBudgetTests.dearItem, count: 16))
                    let reply = try await capped.request("gather", id: 2, params: ["requests": items, "concurrency": 16], timeout: 60)
                    let (spentCapped, refusedCapped) = ProviderBudgetTests.costs(reply)
                    #expect(spentFree + spentCapped <= Self.budget, "spent \(spentFree) + \(spentCapped) of \(Self.budget)")
                    #expect(refusedCapped.count >= 10)
                    let shown = try await capped.request("stats", id: 3)["result"]?["providers"]?["fake"]?["budget"]?["spent_usd"]?.doubleValue ?? 0
                    #expect(shown >= spentFree - 1e-6, "stats shows every machine's day: \(shown)")
                }
            }
        }
    }
}
