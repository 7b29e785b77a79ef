import Testing
import VolleyCore
import VolleyTestSupport

/// `initialize`, `stats`, and `progress` notifications.
@Suite("initialize, stats, progress", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct InitializeStatsProgressTests {
    @Test("initialize with an unsupported protocol_version is -32602 with data.supported and data.requested")
    func unsupportedVersion() async throws {
        try await withVolley { volley in
            let reply = try await volley.request("initialize", id: 1, params: ["protocol_version": 2, "client": ["name": "e2e", "version": "1"]])
            #expect(reply.errorCode == -32602)
            #expect(reply.errorData?["supported"] == [1])
            #expect(reply.errorData?["requested"] == 2)
            // Still usable, and a correct initialize then succeeds.
            #expect(try await volley.request("initialize", id: 2, params: ["protocol_version": 1])["result"]?["protocol_version"] == 1)
        }
    }

    @Test("initialize: protocol_version, server, capabilities, limits")
    func initializeResult() async throws {
        try await withVolley(arguments: ["--max-line-bytes", "200000", "--max-items-per-batch", "500"]) { volley in
            let reply = try await volley.request("initialize", id: 1, params: [
                "protocol_version": 1, "client": ["name": "e2e", "version": "1.0"],
            ])
            let result = try #require(reply["result"], "\(reply.jsonString)")
            #expect(result["protocol_version"] == 1)
            #expect(result["server"]?["name"] == "volley")
            #expect(result["server"]?["version"]?.stringValue?.isEmpty == false)
            let methods = Set(result["capabilities"]?["methods"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            #expect(methods == ["initialize", "ping", "gather", "as_completed", "call", "cancel", "stats", "configure", "shutdown", "exit"])
            let kinds = Set(result["capabilities"]?["provider_kinds"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            #expect(kinds == ["openai", "anthropic", "mock"])
            #expect(result["capabilities"]?["providers"] == ["mock"], "only mock without keys or config")
            #expect(result["capabilities"]?["default_provider"] == .null, "the mock is used by name only, never as a default")
            #expect(result["limits"]?["max_line_bytes"] == 200_000)
            #expect(result["limits"]?["max_items_per_batch"] == 500)
            #expect(result["limits"]?["max_concurrency"]?.intValue ?? 0 >= 1)

            // The limit it announces is the one it enforces.
            let tooMany = try await volley.request("gather", id: 2, params: ["requests": mockItems(501, latencyMs: 0)])
            #expect(tooMany.errorCode == -32602)
        }
    }

    @Test("initialize can configure providers; unknown params are -32602")
    func initializeProviders() async throws {
        try await withVolley { volley in
            #expect(try await volley.request("initialize", id: 1, params: ["protocol_version": 1, "bogus": true]).errorCode == -32602)
            let reply = try await volley.request("initialize", id: 2, params: [
                "providers": ["fast": ["kind": "mock", "latency_ms": 0]], "default_provider": "fast",
            ])
            #expect(reply["result"]?["capabilities"]?["default_provider"] == "fast")
            let providers = Set(reply["result"]?["capabilities"]?["providers"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            #expect(providers == ["fast", "mock"])
            let call = try await volley.request("call", id: 3, params: ["request": ["messages": [["role": "user", "content": "x"]]]])
            #expect(call["result"]?["text"] == "Mock reply to: x")
        }
    }

    @Test("stats has the documented fields, and counts what ran")
    func statsFields() async throws {
        try await withVolley { volley in
            _ = try await volley.request("gather", id: 1, params: ["requests": [
                mockItem(mock: ["latency_ms": 0]),
                mockItem(mock: ["latency_ms": 0]),
                mockItem(mock: ["latency_ms": 0, "fail": "http", "status": 400]),
            ]])
            let reply = try await volley.request("stats", id: 2)
            let stats = try #require(reply["result"]?.objectValue, "\(reply.jsonString)")
            for field in ["uptime_ms", "batches_active", "in_flight", "queued", "completed", "failed", "cancelled",
                          "retries", "rate_limited", "connections_opened", "connections_reused", "latency_ms", "usage",
                          "limiters", "providers"] {
                #expect(stats[field] != nil, "stats.\(field) is missing")
            }
            #expect(stats["completed"] == 2)
            #expect(stats["failed"] == 1)
            #expect(stats["cancelled"] == 0)
            #expect(stats["batches_active"] == 0)
            #expect(stats["in_flight"] == 0)
            #expect(stats["uptime_ms"]?.doubleValue ?? -1 >= 0)
            let latency = try #require(stats["latency_ms"])
            for percentile in ["p50", "p95", "p99"] {
                #expect(latency[percentile]?.doubleValue != nil, "latency_ms.\(percentile) after items ran")
            }
            #expect(stats["providers"]?["mock"]?["kind"] == "mock")
            #expect(stats["usage"]?.objectValue?.isEmpty == false, "usage per model")
        }
    }

    @Test("progress: true sends progress notifications, the last with done == total, before the response")
    func progressNotifications() async throws {
        try await withVolley { volley in
            let start = volley.stdout.count
            let total = 40
            try volley.send(rpcRequest("gather", id: "p", params: ["requests": mockItems(total, latencyMs: 5), "progress": true, "concurrency": 4]))
            let responseIndex = try await volley.responseIndex(to: "p", from: start)
            let lines = volley.stdout.lines.map(\.value)
            let progress = lines[start..<responseIndex].compactMap { $0 }.filter { $0.isNotification("progress") }
            #expect(!progress.isEmpty)
            for note in progress {
                #expect(note["params"]?["request"] == "p")
                #expect(note["params"]?["total"]?.intValue == total)
            }
            let done = progress.compactMap { $0["params"]?["done"]?.intValue }
            #expect(done == done.sorted(), "done never goes backwards")
            #expect(progress.last?["params"]?["done"]?.intValue == total)
            #expect(progress.last?["params"]?["failed"] == 0)
            #expect(!lines[(responseIndex + 1)...].contains { $0?.isNotification("progress") == true }, "no progress after the response")
            let response = try requireValue(lines[responseIndex])
            #expect(response["result"]?["results"]?.arrayValue?.count == total)

            // Without progress: none.
            let quietStart = volley.stdout.count
            _ = try await volley.request("gather", id: "q", params: ["requests": mockItems(3, latencyMs: 0)])
            #expect(!volley.stdout.values[quietStart...].contains { $0.isNotification("progress") })
        }
    }
}
