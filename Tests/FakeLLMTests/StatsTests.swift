import FakeLLMTestSupport
import NIOHTTP1
import Testing
import VolleyJSON

@testable import FakeLLM

@Suite("Connections, keep-alive and counters", .timeLimit(.minutes(1)))
struct StatsTests {
    @Test func keepAliveReusesOneConnection() async throws {
        try await withFakeServer { server in
            try await TestConnection.with(port: server.port) { connection in
                let first = try await connection.exchange("/v1/chat/completions", body: Bodies.openAI(maxTokens: 1))
                let second = try await connection.exchange("/v1/messages", body: Bodies.anthropic(maxTokens: 1))
                #expect(first.status == 200)
                #expect(second.status == 200)
                #expect(first.header("connection") == nil)
            }
            let stats = try await server.waitForStats { $0.records.count == 2 && $0.connectionsOpen == 0 }
            #expect(stats.connectionsAccepted == 1)
            #expect(stats.requests == 2)
            #expect(stats.responsesCompleted == 2)
            #expect(stats.records.map(\.connectionID) == [1, 1])
            #expect(stats.records.map(\.path) == ["/v1/chat/completions", "/v1/messages"])
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withFakeServer { server in
            try await TestConnection.with(port: server.port) { connection in
                try await connection.send(
                    "/v1/chat/completions", headers: [("x-fake-reply", "first"), ("x-fake-latency-ms", "20")],
                    body: Bodies.openAI())
                try await connection.send("/v1/chat/completions", headers: [("x-fake-reply", "second")], body: Bodies.openAI())
                let first = await connection.readResponse()
                let second = await connection.readResponse()
                #expect(first.json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "first")
                #expect(second.json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "second")
            }
            let stats = try await server.waitForStats { $0.records.count == 2 }
            #expect(stats.connectionsAccepted == 1)
            #expect(stats.peakInFlight == 1)  // the pipeline handler serves one request at a time
        }
    }

    @Test func connectionCloseIsHonoured() async throws {
        try await withFakeServer { server in
            try await TestConnection.with(port: server.port) { connection in
                let response = try await connection.exchange(
                    "/v1/chat/completions", headers: [("connection", "close")], body: Bodies.openAI())
                #expect(response.status == 200)
                #expect(response.header("connection") == "close")
                let next = try? await connection.nextPart()
                #expect(next == nil)
            }
        }
    }

    @Test func peakInFlightCountsConcurrentRequests() async throws {
        try await withFakeServer { server in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await TestConnection.with(port: server.port) { connection in
                            try await connection.send(
                                "/v1/chat/completions", headers: [("x-fake-mode", "stall_headers")], body: Bodies.openAI())
                            try await server.waitForStats { $0.inFlight == 4 }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let stats = try await server.waitForStats { $0.clientDisconnectsBeforeResponseEnd == 4 && $0.connectionsOpen == 0 }
            #expect(stats.peakInFlight == 4)
            #expect(stats.peakConnections == 4)
            #expect(stats.connectionsAccepted == 4)
            #expect(stats.inFlight == 0)
            #expect(Set(stats.records.map(\.connectionID)).count == 4)
        }
    }

    @Test func manyConcurrentConnections() async throws {
        let count = 200
        try await withFakeServer { server in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<count {
                    group.addTask {
                        try await server.request(
                            "/v1/chat/completions", body: Bodies.openAI("request \(index)", maxTokens: 3)
                        ).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.count == count)
            #expect(statuses.allSatisfy { $0 == 200 })
            let stats = try await server.waitForStats { $0.records.count == count && $0.connectionsOpen == 0 }
            #expect(stats.connectionsAccepted == count)
            #expect(stats.requests == count)
            #expect(stats.responsesCompleted == count)
            #expect(stats.outputTokens == 3 * count)
            #expect(Set(stats.records.map(\.connectionID)).count == count)
        }
    }

    @Test func recordsDescribeEachRequest() async throws {
        try await withFakeServer { server in
            _ = try await server.request("/v1/chat/completions", body: Bodies.openAI(maxTokens: 4))
            _ = try await server.request(
                "/v1/messages", headers: [("x-fake-status", "529")], body: Bodies.anthropic(model: "claude-x"))
            let stats = try await server.waitForStats { $0.records.count == 2 }
            let ok = stats.records[0]
            #expect(ok.path == "/v1/chat/completions")
            #expect(ok.model == "gpt-4o-mini")
            #expect(ok.status == 200)
            #expect(ok.inputTokens == 7)
            #expect(ok.outputTokens == 4)
            #expect(ok.mode == .ok)
            #expect(!ok.clientDisconnected)
            #expect(ok.receivedAt <= ok.finishedAt)
            let failed = stats.records[1]
            #expect(failed.status == 529)
            #expect(failed.model == "claude-x")
            #expect(failed.outputTokens == 0)
            #expect(stats.inputTokens == 7)  // only replies count as usage
            #expect(stats.outputTokens == 4)
        }
    }

    @Test func recordingCanBeTurnedOff() async throws {
        try await withFakeServer({ $0.recordRequests = false }) { server in
            _ = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            let stats = try await server.waitForStats { $0.responsesCompleted == 1 }
            #expect(stats.records.isEmpty)
            #expect(stats.requests == 1)
        }
    }

    @Test func statsAndResetEndpoints() async throws {
        try await withFakeServer { server in
            _ = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            _ = try await server.request("/v1/chat/completions", headers: [("x-fake-status", "500")], body: Bodies.openAI())
            try await server.waitForStats { $0.responsesCompleted == 2 }

            let stats = try await server.request(.GET, "/fake/stats")
            #expect(stats.status == 200)
            let json = stats.json
            #expect(json["requests"]?.intValue == 2)
            #expect(json["responses_completed"]?.intValue == 2)
            #expect(json["connections_accepted"]?.intValue == 3)  // the stats request's own connection too
            #expect(json["in_flight"]?.intValue == 0)
            #expect(json["peak_in_flight"]?.intValue == 1)
            #expect(json["client_disconnects_before_response_end"]?.intValue == 0)
            #expect(json["rate_limited"]?.intValue == 0)
            #expect(json["status_counts"]?.jsonString == #"{"200":1,"500":1}"#)
            #expect(json["input_tokens"]?.intValue == 7)
            #expect(json["output_tokens"]?.intValue == 16)
            #expect(json["records"] == nil)

            let reset = try await server.request(.POST, "/fake/reset", body: "")
            #expect(reset.json["ok"] == .bool(true))
            let after = server.stats()
            #expect(after.requests == 0)  // /fake/* requests are never counted
            #expect(after.records.isEmpty)
            #expect(after.statusCounts.isEmpty)
        }
    }

    @Test func resetStatsKeepsGauges() async throws {
        try await withFakeServer { server in
            try await TestConnection.with(port: server.port) { connection in
                try await connection.send("/v1/chat/completions", headers: [("x-fake-mode", "stall_headers")], body: Bodies.openAI())
                try await server.waitForStats { $0.inFlight == 1 }
                server.resetStats()
                let stats = server.stats()
                #expect(stats.requests == 0)
                #expect(stats.connectionsAccepted == 0)
                #expect(stats.inFlight == 1)
                #expect(stats.connectionsOpen == 1)
                #expect(stats.peakInFlight == 1)
            }
            let stats = try await server.waitForStats { $0.clientDisconnectsBeforeResponseEnd == 1 }
            #expect(stats.inFlight == 0)
        }
    }

    @Test func silentServerAcceptsButNeverAnswers() async throws {
        try await withFakeServer({ $0.silent = true }) { server in
            try await TestConnection.with(port: server.port) { connection in
                try await connection.send("/v1/chat/completions", body: Bodies.openAI())
                let stats = try await server.waitForStats { $0.connectionsAccepted == 1 }
                #expect(stats.requests == 0)
            }
        }
    }

    @Test func shutdownClosesOpenConnections() async throws {
        let server = try await FakeLLMServer.start()
        #expect(server.baseURL == "http://127.0.0.1:\(server.port)")
        try await TestConnection.with(port: server.port) { connection in
            try await connection.send("/v1/chat/completions", headers: [("x-fake-mode", "stall_headers")], body: Bodies.openAI())
            try await server.waitForStats { $0.inFlight == 1 }
            try await server.shutdown()
            let response = await connection.readResponse()
            #expect(!response.ended)
            #expect(response.head == nil)
        }
        try await server.shutdown()  // a second call is harmless
    }

    @Test func waitForStatsTimesOut() async throws {
        _ = try await withFakeServer { server in
            await #expect(throws: FakeLLMError.self) {
                try await server.waitForStats(timeoutSeconds: 0.01) { $0.requests == 1 }
            }
        }
    }
}
