import FakeLLM
import FakeLLMTestSupport
import Testing
import VolleyCore
import VolleyTestSupport

/// Deadlines, retries, text that needs escaping, batch arrays holding long requests, and the
/// connection pool, seen from the host.
@Suite("Items: deadlines, retries, escaping, pooling", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct ItemBehaviourTests {
    @Test("batch timeout ends unfinished items deadline_exceeded; item timeout ends them timeout")
    func deadlines() async throws {
        try await withVolley { volley in
            let batch = try await volley.request("gather", id: 1, params: [
                "requests": [mockItem(key: "quick", mock: ["latency_ms": 0]), mockItem(key: "slow", mock: ["latency_ms": 60_000])],
                "timeout": 1.0,  // ample for the instant item, far short of the 60 s one
            ])
            let results = try #require(batch["result"]?["results"]?.arrayValue, "\(batch.jsonString)")
            #expect(results[0]["ok"] == true)
            #expect(results[1]["error"]?["kind"] == "deadline_exceeded")
            #expect(batch["result"]?["stats"]?["failed"] == 1)

            let item = try await volley.request("gather", id: 2, params: [
                "requests": [mockItem(key: "slow", mock: ["latency_ms": 60_000], extra: ["timeout": 0.1])],
            ])
            #expect(item["result"]?["results"]?[0]?["error"]?["kind"] == "timeout", "\(item.jsonString)")
        }
    }

    @Test("a retryable failure is retried: attempts and the stats counters show it")
    func retries() async throws {
        try await withVolley { volley in
            let reply = try await volley.request("gather", id: 1, params: ["requests": [
                mockItem(key: "r", mock: ["latency_ms": 0, "fail": "overloaded", "fail_attempts": 1, "retry_after": 0.01], extra: ["max_retries": 2]),
                mockItem(key: "never", mock: ["latency_ms": 0, "fail": "overloaded"], extra: ["max_retries": 0]),
            ]])
            let results = try #require(reply["result"]?["results"]?.arrayValue, "\(reply.jsonString)")
            #expect(results[0]["ok"] == true)
            #expect(results[0]["attempts"] == 2)
            #expect(results[1]["error"]?["kind"] == "overloaded")
            #expect(results[1]["error"]?["retryable"] == true)
            #expect(results[1]["attempts"] == 1)
            let stats = try await volley.request("stats", id: 2)
            #expect(stats["result"]?["retries"] == 1)
        }
    }

    @Test("text with newlines, quotes, U+2028 and emoji round-trips, one line per message")
    func escaping() async throws {
        try await withVolley { volley in
            let content = "line one\nline two\r\n\t\"quoted\" \\ back\u{2028}sep\u{2029} é 😀 \u{0}nul"
            let reply = try await volley.request("call", id: "u", params: mockItem(content: content, mock: ["latency_ms": 0]))
            #expect(reply["result"]?["text"] == .string("Mock reply to: " + content))
            let outcome = try await volley.request("gather", id: "k", params: ["requests": [mockItem(key: content, mock: ["latency_ms": 0])]])
            #expect(outcome["result"]?["results"]?[0]?["key"] == .string(content))
            volley.closeStdin()
            #expect(try await volley.waitForExit() == .exited(0))
            #expect(volley.stdout.count == 2, "no raw newline inside a message: \(volley.stdout.summary())")
            #expect(volley.stdout.unparseableLines.isEmpty)
        }
    }

    @Test("a batch array holding a long gather is answered as one array when its last member finishes")
    func batchArrayWithLongMembers() async throws {
        try await withVolley { volley in
            let batch: JSONValue = [
                rpcRequest("gather", id: "g", params: ["requests": mockItems(2, latencyMs: 60_000)]),
                rpcRequest("ping", id: "p"),
                rpcRequest("as_completed", id: "a", params: ["requests": mockItems(2, latencyMs: 0)]),
            ]
            try volley.send(batch)
            // The as_completed's items stream out at once; the batch reply waits for the gather.
            try await waitForItems(volley, request: "a", from: 0, count: 2)
            #expect(!volley.stdout.values.contains { $0.arrayValue != nil })
            // Members are cancellable by id like any request.
            #expect(try await volley.request("cancel", id: "c", params: ["id": "g"])["result"] == ["cancelled": true])
            let index = try await volley.stdout.waitFor(from: 0, "the batch reply") { $0.arrayValue != nil }
            let replies = try #require(volley.stdout.lines[index].value?.arrayValue)
            #expect(replies.count == 3)
            #expect(replies.first { $0["id"] == "g" }?.errorCode == -32800)
            #expect(replies.first { $0["id"] == "p" }?["result"] == [:])
            #expect(replies.first { $0["id"] == "a" }?["result"]?["results"] == [])
            // The item notifications came before the array that holds as_completed's response.
            let items = volley.stdout.lines[..<index].compactMap(\.value).filter { $0.isNotification("item") }
            #expect(items.count == 2)
        }
    }

    @Test("1,000 calls to one server reuse a few pooled connections", .timeLimit(.minutes(1)))
    func connectionReuse() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "k"]) { volley in
                try await configureFake(volley, server)
                let requests = JSONValue.array((0..<1_000).map { fakeItem(key: "c\($0)") })
                let reply = try await volley.request("gather", id: 1, params: ["requests": requests])
                #expect(reply["result"]?["stats"]?["succeeded"] == 1_000)
                let stats = try requireValue(try await volley.request("stats", id: 2)["result"])
                let opened = try requireValue(stats["connections_opened"]?.intValue)
                let reused = try requireValue(stats["connections_reused"]?.intValue)
                #expect(opened >= 1 && opened <= 32, "at most --max-connections-per-host (32) connections: \(opened)")
                #expect(opened + reused == 1_000, "every transfer ran on a new or a reused connection: \(opened) + \(reused)")
                #expect(server.stats().connectionsAccepted == opened)
                #expect(stats["usage"]?["gpt-4o-mini"]?["output_tokens"]?.intValue ?? 0 > 0, "usage per model: \(stats.jsonString)")
            }
        }
    }
}
