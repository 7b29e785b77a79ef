import FakeLLM
import FakeLLMTestSupport
import Testing
import VolleyCore
import VolleyTestSupport

/// `cancel` in the middle of a batch whose requests hang at the server.
@Suite("cancel mid-batch against the fake server", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct CancelTests {
    static let total = 50
    /// Items answered at once; every other item's request is read and never answered.
    static let fastIndices: Set<Int> = [0, 10, 20, 30, 40]
    static var stalledCount: Int { total - fastIndices.count }

    static var requests: JSONValue {
        .array((0..<total).map { index in
            fakeItem(key: "k\(index)", fake: fastIndices.contains(index) ? [:] : ["mode": "stall_headers"])
        })
    }

    /// Room for every item in flight at once (the default is 32 connections per host).
    static let arguments = ["--max-connections-per-host", "64"]

    /// The sidecar serves another batch after the cancel.
    static func expectStillServing(_ volley: VolleyProcess, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let next = try await volley.request("gather", id: "next", params: ["requests": [fakeItem(key: "n0"), fakeItem(key: "n1")]])
        #expect(next["result"]?["stats"]?["succeeded"] == 2, "\(next.jsonString)", sourceLocation: sourceLocation)
    }

    @Test("as_completed + cancel notification: -32800, completed + cancelled = total, server sees the disconnects")
    func cancelNotificationAsCompleted() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(arguments: Self.arguments, environment: [fakeKeyEnv: "k"]) { volley in
                try await configureFake(volley, server)
                let start = volley.stdout.count
                try volley.send(rpcRequest("as_completed", id: "batch", params: ["requests": Self.requests]))
                // The fast items are in (as notifications) and every stalled request has reached the server.
                try await waitForItems(volley, request: "batch", from: start, count: Self.fastIndices.count)
                try await server.waitForStats(timeoutSeconds: defaultTimeoutSeconds) { $0.inFlight == Self.stalledCount }

                try volley.notify("cancel", params: ["id": "batch"])
                let responseIndex = try await volley.responseIndex(to: "batch", from: start)
                let lines = volley.stdout.lines
                let response = try requireValue(lines[responseIndex].value)
                #expect(response.errorCode == -32800)
                #expect(response.errorData?["results"] == [], "as_completed sent every outcome as an item")
                let stats = try requireValue(response.errorData?["stats"])
                #expect(stats["succeeded"]?.intValue == Self.fastIndices.count)
                #expect(stats["cancelled"]?.intValue == Self.stalledCount)
                #expect(stats["failed"] == 0)

                let items = lines[start..<responseIndex].compactMap(\.value).filter { $0.isNotification("item") }
                #expect(items.count == Self.total, "every item has an outcome before the response")
                let okIndices = Set(items.filter { $0["params"]?["ok"] == true }.compactMap { $0["params"]?["index"]?.intValue })
                let cancelledIndices = Set(items.filter { $0["params"]?["error"]?["kind"] == "cancelled" }.compactMap { $0["params"]?["index"]?.intValue })
                #expect(okIndices == Self.fastIndices)
                #expect(okIndices.count + cancelledIndices.count == Self.total)

                let after = try await server.waitForStats(timeoutSeconds: defaultTimeoutSeconds) {
                    $0.clientDisconnectsBeforeResponseEnd == Self.stalledCount
                }
                #expect(after.inFlight == 0)
                try await Self.expectStillServing(volley)
            }
        }
    }

    @Test("gather + cancel request: {cancelled: true}, -32800 with every outcome, server sees the disconnects")
    func cancelRequestGather() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(arguments: Self.arguments, environment: [fakeKeyEnv: "k"]) { volley in
                try await configureFake(volley, server)
                try volley.send(rpcRequest("gather", id: 7, params: ["requests": Self.requests]))
                try await server.waitForStats(timeoutSeconds: defaultTimeoutSeconds) {
                    $0.inFlight == Self.stalledCount && $0.responsesCompleted == Self.fastIndices.count
                }
                // The fast answers reached the server's socket; wait until the sidecar has
                // recorded them too (its own `stats`), so the split below is exact.
                try await waitForCompleted(volley, count: Self.fastIndices.count)

                let cancel = try await volley.request("cancel", id: "c", params: ["id": 7])
                #expect(cancel["result"] == ["cancelled": true])
                let response = try await volley.response(to: 7)
                #expect(response.errorCode == -32800)
                let results = try #require(response.errorData?["results"]?.arrayValue)
                #expect(results.count == Self.total)
                for (index, outcome) in results.enumerated() {
                    #expect(outcome["index"]?.intValue == index)
                    #expect(outcome["key"] == .string("k\(index)"))
                    if Self.fastIndices.contains(index) {
                        #expect(outcome["ok"] == true, "\(outcome.jsonString)")
                    } else {
                        #expect(outcome["error"]?["kind"] == "cancelled", "\(outcome.jsonString)")
                    }
                }
                let stats = try requireValue(response.errorData?["stats"])
                #expect(stats["succeeded"]?.intValue == Self.fastIndices.count)
                #expect(stats["cancelled"]?.intValue == Self.stalledCount)

                try await server.waitForStats(timeoutSeconds: defaultTimeoutSeconds) {
                    $0.clientDisconnectsBeforeResponseEnd == Self.stalledCount
                }
                // Cancelling again: the request is finished, so nothing is cancelled.
                #expect(try await volley.request("cancel", id: "again", params: ["id": 7])["result"] == ["cancelled": false])
                try await Self.expectStillServing(volley)
            }
        }
    }

    @Test("cancel of a call: -32800 with data.error")
    func cancelCall() async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "k"]) { volley in
                try await configureFake(volley, server)
                try volley.send(rpcRequest("call", id: "one", params: fakeItem(fake: ["mode": "stall_headers"])))
                try await server.waitForStats(timeoutSeconds: defaultTimeoutSeconds) { $0.inFlight == 1 }
                #expect(try await volley.request("cancel", id: "c", params: ["id": "one"])["result"] == ["cancelled": true])
                let response = try await volley.response(to: "one")
                #expect(response.errorCode == -32800)
                #expect(response.errorData?["error"]?["kind"] == "cancelled")
                try await server.waitForStats(timeoutSeconds: defaultTimeoutSeconds) { $0.clientDisconnectsBeforeResponseEnd == 1 }
            }
        }
    }
}

/// Waits until `count` `item` notifications of `request` have been written after line `from`.
func waitForItems(_ volley: VolleyProcess, request: JSONValue, from start: Int, count: Int) async throws {
    var next = start
    for seen in 0..<count {
        let index = try await volley.stdout.waitFor(from: next, "item notification \(seen + 1) of \(count) for \(request.jsonString)") {
            $0.isNotification("item") && $0["params"]?["request"] == request
        }
        next = index + 1
    }
}

/// Polls the sidecar's `stats` until `completed` reaches `count` (nothing notifies it): each
/// round trip is awaited, for at most `timeout`.
func waitForCompleted(_ volley: VolleyProcess, count: Int, timeout: Duration = .seconds(30)) async throws {
    var attempt = 0
    try await waitUntil("the sidecar's stats to show \(count) completed items", timeout: timeout, pollInterval: .milliseconds(10)) {
        attempt += 1
        let stats = try await volley.request("stats", id: .string("poll-\(attempt)"))
        return (stats["result"]?["completed"]?.intValue ?? 0) >= count
    }
}
