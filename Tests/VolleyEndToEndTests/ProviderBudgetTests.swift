import FakeLLM
import FakeLLMTestSupport
import Foundation
import Testing
import VolleyCore
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
