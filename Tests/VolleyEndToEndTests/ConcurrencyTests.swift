import Testing
import VolleyCore
import VolleyTestSupport

/// Requests run concurrently: a fast one is answered while a slow one is still running.
@Suite("Concurrent requests", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct ConcurrencyTests {
    @Test("a later, faster gather is answered before an earlier, slower one")
    func responsesOutOfOrder() async throws {
        try await withVolley { volley in
            // The slow one would take a minute: it can only end because we cancel it after the
            // fast one has answered, so the order is certain, not a matter of timing.
            try volley.send(rpcRequest("gather", id: "slow", params: ["requests": [mockItem(key: "s", mock: ["latency_ms": 60_000])]]))
            try volley.send(rpcRequest("gather", id: "fast", params: ["requests": [mockItem(key: "f", mock: ["latency_ms": 1])]]))
            let fastIndex = try await volley.responseIndex(to: "fast")
            let fast = try requireValue(volley.stdout.lines[fastIndex].value)
            #expect(fast["result"]?["results"]?[0]?["ok"] == true)
            #expect(fast["result"]?["results"]?[0]?["key"] == "f")
            // The slow gather has not answered: it is still running.
            #expect(!volley.stdout.values.contains { isResponse($0, id: "slow") })

            // A notification is never answered, even one that does something.
            try volley.notify("cancel", params: ["id": "no-such-request"])
            try volley.notify("cancel", params: ["id": "slow"])
            let slowIndex = try await volley.responseIndex(to: "slow")
            #expect(slowIndex > fastIndex, "responses came out of order")
            let slow = try requireValue(volley.stdout.lines[slowIndex].value)
            #expect(slow.errorCode == -32800)

            volley.closeStdin()
            #expect(try await volley.waitForExit() == .exited(0))
            #expect(volley.stdout.count == 2, "only the two gathers were answered: \(volley.stdout.summary())")
        }
    }

    @Test("many interleaved requests each get exactly one response, matched by id")
    func interleavedRequests() async throws {
        try await withVolley { volley in
            // Latencies decrease with the index, so later requests tend to finish first.
            for index in 0..<20 {
                let latency = (20 - index) * 5
                try volley.send(rpcRequest("gather", id: JSONValue(index), params: ["requests": mockItems(3, latencyMs: latency)]))
                try volley.send(rpcRequest("ping", id: .string("p\(index)")))
            }
            volley.closeStdin()
            #expect(try await volley.waitForExit() == .exited(0))
            let values = volley.stdout.values
            #expect(values.count == 40, "\(volley.stdout.summary())")
            for index in 0..<20 {
                let gathers = values.filter { isResponse($0, id: JSONValue(index)) }
                #expect(gathers.count == 1)
                #expect(gathers.first?["result"]?["results"]?.arrayValue?.count == 3)
                #expect(values.count { isResponse($0, id: .string("p\(index)")) } == 1)
            }
        }
    }

    @Test("an id already used by a running request is rejected with -32600")
    func duplicateRunningID() async throws {
        try await withVolley { volley in
            try volley.send(rpcRequest("gather", id: 1, params: ["requests": [mockItem(mock: ["latency_ms": 60_000])]]))
            try volley.send(rpcRequest("call", id: 1, params: mockItem()))
            let duplicate = try await volley.response(to: 1)
            #expect(duplicate.errorCode == -32600)
            let cancel = try await volley.request("cancel", id: 2, params: ["id": 1])
            #expect(cancel["result"] == ["cancelled": true])
            let first = try await volley.stdout.waitFor(from: 0, "the cancelled gather's answer") { $0["id"] == 1 && $0.errorCode == -32800 }
            #expect(first > 0)
            // Once it has answered, the id is free again.
            #expect(try await volley.request("ping", id: 1)["result"] == [:])
        }
    }

    @Test("an id is free as soon as its request has answered (reused 300 times in a row)")
    func idFreeOnceAnswered() async throws {
        try await withVolley { volley in
            // The host learns a request is finished from its answer; reusing the id at once must
            // work, and cancelling it must find nothing to cancel.
            for round in 0..<150 {
                let reply = try await volley.request("call", id: "reused", params: mockItem(mock: ["latency_ms": 0]))
                #expect(reply["result"]?["text"] != nil, "round \(round): \(reply.jsonString)")
                let cancel = try await volley.request("cancel", id: "c", params: ["id": "reused"])
                #expect(cancel["result"] == ["cancelled": false], "round \(round): the answered request was still registered")
                let gather = try await volley.request("gather", id: "reused", params: ["requests": mockItems(1, latencyMs: 0)])
                #expect(gather["result"]?["results"] != nil, "round \(round): \(gather.jsonString)")
            }
        }
    }

    @Test("any request reusing the id of a running request is rejected, not answered with that id twice")
    func duplicateIDOnOtherMethods() async throws {
        try await withVolley { volley in
            try volley.send(rpcRequest("gather", id: "busy", params: ["requests": [mockItem(mock: ["latency_ms": 60_000])]]))
            // A reply to this ping with id "busy" would settle the host's future for the gather.
            let ping = try await volley.request("ping", id: "busy")
            #expect(ping.errorCode == -32600, "\(ping.jsonString)")
            let stats = try await volley.request("stats", id: "busy", timeout: defaultTimeoutSeconds)
            #expect(stats.errorCode == -32600)
            // The gather is untouched: still running, cancellable, answered once.
            #expect(try await volley.request("cancel", id: "c", params: ["id": "busy"])["result"] == ["cancelled": true])
            let gather = try await volley.stdout.waitFor(from: 0, "the gather's answer") { $0["id"] == "busy" && $0.errorCode == -32800 }
            #expect(gather >= 0)
            volley.closeStdin()
            #expect(try await volley.waitForExit() == .exited(0))
            #expect(volley.stdout.values.count { $0["id"] == "busy" } == 3, "ping and stats refused, gather answered once")
        }
    }
}
