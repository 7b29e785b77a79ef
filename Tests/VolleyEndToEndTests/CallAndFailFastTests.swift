import Testing
import VolleyCore
import VolleyTestSupport

/// `call` (one item) and `fail_fast` batches: request-level errors -32803 / -32602.
@Suite("call and fail_fast", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct CallAndFailFastTests {
    @Test("call: success returns the outcome's value")
    func callSuccess() async throws {
        try await withVolley { volley in
            let reply = try await volley.request("call", id: 1, params: mockItem(key: "c", content: "hi", mock: ["latency_ms": 1]))
            let value = try #require(reply["result"], "\(reply.jsonString)")
            #expect(value["text"] == "Mock reply to: hi")
            #expect(value["finish_reason"] == "stop")
            #expect(value["usage"]?["input_tokens"] == 1)
            #expect(value["index"] == nil, "the result is the value, not the outcome")
        }
    }

    @Test("call: a failing item is -32803 with the outcome's error as data")
    func callFailure() async throws {
        try await withVolley { volley in
            let reply = try await volley.request("call", id: 2, params: mockItem(
                mock: ["latency_ms": 0, "fail": "http", "status": 400], extra: ["max_retries": 0]))
            #expect(reply.errorCode == -32803)
            #expect(reply.errorData?["kind"] == "http")
            #expect(reply.errorData?["status"] == 400)
            #expect(reply.errorData?["retryable"] == false)
            #expect(reply.errorData?["attempts"] == 1)

            let limited = try await volley.request("call", id: 3, params: mockItem(
                mock: ["latency_ms": 0, "fail": "rate_limited"], extra: ["max_retries": 0]))
            #expect(limited.errorCode == -32803)
            #expect(limited.errorData?["kind"] == "rate_limited")
            #expect(limited.errorData?["attempts"] == 1)
        }
    }

    @Test("call: a malformed item is -32602")
    func callMalformed() async throws {
        try await withVolley { volley in
            let malformed: [JSONValue?] = [
                ["provider": "mock"],
                ["request": "not an object"],
                ["request": ["messages": []], "timeout": -1],
                [mockItem()],
                nil,
                // An unknown provider is -32602 too.
                ["provider": "nope", "request": ["messages": []]],
            ]
            for (index, params) in malformed.enumerated() {
                let reply = try await volley.request("call", id: JSONValue(index), params: params)
                #expect(reply.errorCode == -32602, "params \(params?.jsonString ?? "none"): \(reply.jsonString)")
            }
            // Still serving.
            let ok = try await volley.request("call", id: "ok", params: mockItem(mock: ["latency_ms": 0]))
            #expect(ok["result"]?["text"] != nil)
        }
    }

    @Test("gather with fail_fast: -32803 with data.index, error, every outcome, stats")
    func failFast() async throws {
        try await withVolley { volley in
            // Items 0-9 would take a minute; item 4 fails at once, which must stop the rest.
            var requests: [JSONValue] = (0..<10).map { mockItem(key: "k\($0)", mock: ["latency_ms": 60_000]) }
            requests[4] = mockItem(key: "k4", mock: ["latency_ms": 0, "fail": "http", "status": 400], extra: ["max_retries": 0])
            let reply = try await volley.request("gather", id: "ff", params: ["requests": .array(requests), "fail_fast": true])
            #expect(reply.errorCode == -32803)
            let data = try #require(reply.errorData, "\(reply.jsonString)")
            #expect(data["index"] == 4)
            #expect(data["error"]?["kind"] == "http")
            #expect(data["error"]?["status"] == 400)
            let results = try #require(data["results"]?.arrayValue)
            #expect(results.count == 10, "every item accounted for")
            for (index, outcome) in results.enumerated() {
                #expect(outcome["index"]?.intValue == index)
                #expect(outcome["key"] == .string("k\(index)"))
                #expect(outcome["ok"] == false)
                #expect(outcome["error"]?["kind"] == (index == 4 ? "http" : "cancelled"), "\(outcome.jsonString)")
            }
            #expect(data["stats"]?["failed"] == 1)
            #expect(data["stats"]?["cancelled"] == 9)
            #expect(data["stats"]?["succeeded"] == 0)
            #expect(reply["error"]?["message"]?.stringValue?.contains("4") == true)
        }
    }

    @Test("as_completed with fail_fast: every outcome as an item, then -32803 with results []")
    func failFastAsCompleted() async throws {
        try await withVolley { volley in
            var requests: [JSONValue] = (0..<6).map { mockItem(key: "k\($0)", mock: ["latency_ms": 60_000]) }
            requests[2] = mockItem(key: "k2", mock: ["latency_ms": 0, "fail": "invalid_request"], extra: ["max_retries": 0])
            let start = volley.stdout.count
            try volley.send(rpcRequest("as_completed", id: "ff", params: ["requests": .array(requests), "fail_fast": true]))
            let responseIndex = try await volley.responseIndex(to: "ff", from: start)
            let response = try requireValue(volley.stdout.lines[responseIndex].value)
            #expect(response.errorCode == -32803)
            #expect(response.errorData?["index"] == 2)
            #expect(response.errorData?["results"] == [])
            let items = volley.stdout.lines[start..<responseIndex].compactMap(\.value).filter { $0.isNotification("item") }
            #expect(items.count == 6)
            #expect(Set(items.compactMap { $0["params"]?["index"]?.intValue }) == Set(0..<6))
        }
    }

    @Test("without fail_fast a failed item is an outcome, not a request error")
    func failuresAreOutcomes() async throws {
        try await withVolley { volley in
            let reply = try await volley.request("gather", id: 1, params: ["requests": [
                mockItem(key: "good", mock: ["latency_ms": 0]),
                mockItem(key: "bad", mock: ["latency_ms": 0, "fail": "quota_exceeded"]),
                ["key": "broken", "request": 5],
            ]])
            let results = try #require(reply["result"]?["results"]?.arrayValue, "\(reply.jsonString)")
            #expect(results.map { $0["key"] } == ["good", "bad", "broken"])
            #expect(results[0]["ok"] == true)
            #expect(results[1]["error"]?["kind"] == "quota_exceeded")
            #expect(results[2]["error"]?["kind"] == "invalid_request")
            #expect(results[2]["attempts"] == 0)
        }
    }
}
