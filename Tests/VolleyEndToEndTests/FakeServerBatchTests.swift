import FakeLLM
import FakeLLMTestSupport
import Testing
import VolleyCore
import VolleyTestSupport

/// Large batches against the fake LLM server, with scripted failures mixed in.
@Suite("Batches against the fake server", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct FakeServerBatchTests {
    static let itemCount = 1_000

    /// What item `index` is scripted to do, and the outcome it must get.
    enum Script {
        case ok, serverError, malformed

        init(_ index: Int) {
            switch index % 10 {
            case 3: self = .serverError
            case 7: self = .malformed
            default: self = .ok
            }
        }

        var fake: JSONObject {
            switch self {
            case .ok: [:]
            case .serverError: ["status": 500]
            case .malformed: ["mode": "malformed"]
            }
        }

        var errorKind: JSONValue? {
            switch self {
            case .ok: nil
            case .serverError: "http"
            case .malformed: "provider_error"
            }
        }
    }

    static var requests: JSONValue {
        .array((0..<itemCount).map { fakeItem(key: "key-\($0)", fake: Script($0).fake) })
    }

    /// Checks one outcome (from `results` or an `item` notification) against its script.
    static func check(_ outcome: JSONValue, index: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let script = Script(index)
        #expect(outcome["index"]?.intValue == index, sourceLocation: sourceLocation)
        #expect(outcome["key"] == .string("key-\(index)"), sourceLocation: sourceLocation)
        #expect(outcome["ok"] == .bool(script == .ok), "\(outcome.jsonString)", sourceLocation: sourceLocation)
        if script == .ok {
            #expect(outcome["value"]?["text"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
            #expect(outcome["error"] == nil, sourceLocation: sourceLocation)
        } else {
            #expect(outcome["error"]?["kind"] == script.errorKind, "\(outcome.jsonString)", sourceLocation: sourceLocation)
            #expect(outcome["value"] == nil, sourceLocation: sourceLocation)
        }
        if script == .serverError {
            #expect(outcome["error"]?["status"] == 500, sourceLocation: sourceLocation)
        }
        #expect(outcome["attempts"] == 1, "max_retries 0: one attempt each", sourceLocation: sourceLocation)
    }

    static var expectedFailures: Int { (0..<itemCount).count { Script($0) != .ok } }

    @Test("gather of 1,000 mixed items: 1,000 results in input order, right ok/kind, keys echoed")
    func gatherMixedOutcomes() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "sk-fake-key"]) { volley in
                try await configureFake(volley, server)
                let response = try await volley.request("gather", id: "big", params: ["requests": Self.requests])
                let results = try #require(response["result"]?["results"]?.arrayValue, "\(response.jsonString.prefix(500))")
                #expect(results.count == Self.itemCount)
                for (position, outcome) in results.enumerated() {
                    if position % 100 == 0 { await Task.yield() }  // long loop: let other tests' tasks run
                    Self.check(outcome, index: position)
                }
                let stats = response["result"]?["stats"]
                #expect(stats?["succeeded"]?.intValue == Self.itemCount - Self.expectedFailures)
                #expect(stats?["failed"]?.intValue == Self.expectedFailures)
                #expect(stats?["cancelled"] == 0)
                #expect(server.stats().requests == Self.itemCount)
            }
        }
    }

    @Test("as_completed of 1,000 mixed items: each index once as an item notification, all before the response")
    func asCompletedMixedOutcomes() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "sk-fake-key"]) { volley in
                try await configureFake(volley, server)
                let start = volley.stdout.count
                try volley.send(rpcRequest("as_completed", id: 42, params: ["requests": Self.requests]))
                let responseIndex = try await volley.responseIndex(to: 42, from: start)
                let lines = volley.stdout.lines
                let response = try requireValue(lines[responseIndex].value)
                #expect(response["result"]?["results"] == [])
                #expect(response["result"]?["stats"]?["failed"]?.intValue == Self.expectedFailures)

                var seen = [Int](repeating: 0, count: Self.itemCount)
                for (position, line) in lines[start..<responseIndex].enumerated() {
                    if position % 100 == 0 { await Task.yield() }
                    let value = try requireValue(line.value)
                    #expect(value.isNotification("item"), "only item notifications before the response: \(line.text)")
                    let params = try requireValue(value["params"])
                    #expect(params["request"] == 42)
                    let index = try requireValue(params["index"]?.intValue)
                    seen[index] += 1
                    Self.check(params, index: index)
                }
                #expect(seen.allSatisfy { $0 == 1 }, "every index exactly once")
                // Nothing of this request comes after its response.
                volley.closeStdin()
                #expect(try await volley.waitForExit() == .exited(0))
                #expect(volley.stdout.count == responseIndex + 1)
            }
        }
    }

    @Test("a batch's concurrency caps its requests in flight at the server")
    func batchConcurrencyCap() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "k"]) { volley in
                try await configureFake(volley, server)
                let requests = JSONValue.array((0..<12).map { fakeItem(key: "c\($0)", fake: ["latency_ms": 20]) })
                let reply = try await volley.request("gather", id: 1, params: ["requests": requests, "concurrency": 2])
                #expect(reply["result"]?["stats"]?["succeeded"] == 12)
                let stats = server.stats()
                #expect(stats.requests == 12)
                #expect(stats.peakInFlight <= 2, "peak in flight \(stats.peakInFlight) with concurrency 2")
            }
        }
    }

    @Test("a provider's concurrency limit holds across concurrent batches")
    func providerConcurrencyCap() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "k"]) { volley in
                let configured = try await volley.request("configure", id: "cfg", params: [
                    "providers": fakeProviders(server, extra: ["limits": ["concurrency": 3]]),
                ])
                #expect(configured["result"] != nil)
                for batch in 0..<3 {
                    let requests = JSONValue.array((0..<8).map { fakeItem(key: "b\(batch)-\($0)", fake: ["latency_ms": 20]) })
                    try volley.send(rpcRequest("as_completed", id: JSONValue(batch), params: ["requests": requests, "concurrency": 8]))
                }
                for batch in 0..<3 {
                    let reply = try await volley.response(to: JSONValue(batch))
                    #expect(reply["result"]?["stats"]?["succeeded"] == 8)
                }
                let stats = server.stats()
                #expect(stats.requests == 24)
                #expect(stats.peakInFlight <= 3, "peak in flight \(stats.peakInFlight) with limits.concurrency 3")
            }
        }
    }
}
