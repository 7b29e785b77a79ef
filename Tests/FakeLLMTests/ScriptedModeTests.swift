import FakeLLMTestSupport
import NIOHTTP1
import Testing
import VolleyJSON

@testable import FakeLLM

/// Where a test puts its scripting: `x-fake-*` headers or the body's `"fake"` object.
enum ScriptVia: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case header
    case body

    var testDescription: String { rawValue }

    /// Headers and a `fake` JSON object for `mode` (plus extra keys) the way this channel carries them.
    func script(_ pairs: [(String, String)]) -> (headers: [(String, String)], fake: String?) {
        switch self {
        case .header:
            return (pairs.map { ("x-fake-" + $0.0.replacingOccurrences(of: "_", with: "-"), $0.1) }, nil)
        case .body:
            return ([], "{" + pairs.map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",") + "}")
        }
    }
}

@Suite("Scripted modes, via headers and via the body", .timeLimit(.minutes(1)))
struct ScriptedModeTests {
    func openAI(_ server: FakeLLMServer, _ via: ScriptVia, _ pairs: [(String, String)], stream: Bool = false)
        async throws -> TestExchange
    {
        let (headers, fake) = via.script(pairs)
        return try await server.request(
            "/v1/chat/completions", headers: headers, body: Bodies.openAI(stream: stream, fake: fake))
    }

    /// Waits until the server has finished `count` requests (so the stats are final).
    func settled(_ server: FakeLLMServer, requests count: Int = 1) async throws -> FakeLLMStats {
        try await server.waitForStats { $0.requests == count && $0.inFlight == 0 && $0.records.count == count }
    }

    @Test(arguments: ScriptVia.allCases)
    func okModeIsANormalAnswer(via: ScriptVia) async throws {
        try await withFakeServer { server in
            let response = try await openAI(server, via, [("mode", "ok")])
            #expect(response.status == 200)
            #expect(response.ended)
            let stats = try await settled(server)
            #expect(stats.records.first?.mode == .ok)
            #expect(stats.responsesCompleted == 1)
        }
    }

    @Test(arguments: ScriptVia.allCases)
    func resetSendsPartOfTheResponseThenRST(via: ScriptVia) async throws {
        try await withFakeServer { server in
            let response = try await openAI(server, via, [("mode", "reset")])
            #expect(!response.ended)
            #expect(response.status == 200)
            #expect(response.body.count < Int(response.header("content-length") ?? "0") ?? 0)
            let stats = try await settled(server)
            #expect(stats.responsesCompleted == 0)
            #expect(stats.clientDisconnectsBeforeResponseEnd == 0)  // the server aborted, not the client
            #expect(stats.records.first?.mode == .reset)
            #expect(stats.records.first?.status == 200)
        }
    }

    @Test(arguments: ScriptVia.allCases)
    func resetStreamSendsSomeEventsThenRST(via: ScriptVia) async throws {
        try await withFakeServer { server in
            let response = try await openAI(server, via, [("mode", "reset_stream")], stream: true)
            #expect(!response.ended)
            #expect(response.status == 200)
            #expect(response.events.count >= 2)
            #expect(!response.text.contains("[DONE]"))
            let stats = try await settled(server)
            #expect(stats.clientDisconnectsBeforeResponseEnd == 0)
        }
    }

    @Test(arguments: ScriptVia.allCases)
    func stallIsCountedWhenTheClientLeaves(via: ScriptVia) async throws {
        try await withFakeServer { server in
            let (headers, fake) = via.script([("mode", "stall")])
            let partial = try await TestConnection.with(port: server.port) { connection in
                try await connection.send("/v1/chat/completions", headers: headers, body: Bodies.openAI(fake: fake))
                return try await connection.readHead(minimumBodyBytes: 1)
            }  // leaving the closure closes the connection mid-response
            #expect(partial.status == 200)
            #expect(!partial.ended)
            #expect(partial.body.count < Int(partial.header("content-length") ?? "0") ?? 0)
            let stats = try await server.waitForStats { $0.clientDisconnectsBeforeResponseEnd == 1 }
            #expect(stats.responsesCompleted == 0)
            #expect(stats.inFlight == 0)
            #expect(stats.records.first?.clientDisconnected == true)
            #expect(stats.records.first?.status == 200)
        }
    }

    @Test(arguments: ScriptVia.allCases)
    func stallOnAStreamDeliversEventsIncrementally(via: ScriptVia) async throws {
        try await withFakeServer { server in
            let (headers, fake) = via.script([("mode", "stall")])
            try await TestConnection.with(port: server.port) { connection in
                try await connection.send(
                    "/v1/messages", headers: headers, body: Bodies.anthropic(stream: true, fake: fake))
                // The first events arrive although the response never ends.
                let partial = try await connection.readHead(minimumBodyBytes: 200)
                #expect(partial.status == 200)
                #expect(partial.text.hasPrefix("event: message_start\n"))
                #expect(!partial.ended)
            }
            let stats = try await server.waitForStats { $0.clientDisconnectsBeforeResponseEnd == 1 }
            #expect(stats.records.first?.path == "/v1/messages")
        }
    }

    @Test(arguments: ScriptVia.allCases)
    func stallHeadersNeverAnswers(via: ScriptVia) async throws {
        try await withFakeServer { server in
            let (headers, fake) = via.script([("mode", "stall_headers")])
            try await TestConnection.with(port: server.port) { connection in
                try await connection.send("/v1/chat/completions", headers: headers, body: Bodies.openAI(fake: fake))
                // The server has read the request and holds it.
                let held = try await server.waitForStats { $0.requests == 1 && $0.inFlight == 1 }
                #expect(held.statusCounts.isEmpty)
            }
            let stats = try await server.waitForStats { $0.clientDisconnectsBeforeResponseEnd == 1 }
            #expect(stats.records.first?.status == nil)
            #expect(stats.records.first?.mode == .stallHeaders)
        }
    }

    @Test(arguments: ScriptVia.allCases)
    func malformedIsATruncatedBodyOfCorrectLength(via: ScriptVia) async throws {
        try await withFakeServer { server in
            let response = try await openAI(server, via, [("mode", "malformed")])
            #expect(response.status == 200)
            #expect(response.ended)
            #expect(response.header("content-length") == String(response.body.count))
            #expect(response.text.hasPrefix("{\"id\":\"chatcmpl-"))
            #expect(throws: JSONParseError.self) { try JSONParser.parse(response.body) }
        }
    }

    @Test(arguments: ScriptVia.allCases)
    func insufficientQuotaHasNoRetryHeaders(via: ScriptVia) async throws {
        try await withFakeServer { server in
            let response = try await openAI(server, via, [("mode", "insufficient_quota")])
            #expect(response.status == 429)
            #expect(response.json["error"]?["type"]?.stringValue == "insufficient_quota")
            #expect(response.json["error"]?["code"]?.stringValue == "insufficient_quota")
            #expect(response.json["error"]?["param"] == .null)
            #expect(response.json["error"]?["message"]?.stringValue?.hasPrefix("You exceeded your current quota") == true)
            #expect(response.header("retry-after") == nil)
            #expect(response.header("retry-after-ms") == nil)
            let stats = try await settled(server)
            #expect(stats.rateLimited == 1)
        }
    }

    @Test(arguments: ScriptVia.allCases)
    func rateLimitModeLooksLikeTheLimitWasHit(via: ScriptVia) async throws {
        try await withFakeServer { server in
            let response = try await openAI(server, via, [("mode", "rate_limit")])
            #expect(response.status == 429)
            #expect(response.json["error"]?["type"]?.stringValue == "requests")
            #expect(response.json["error"]?["code"]?.stringValue == "rate_limit_exceeded")
            #expect(response.header("retry-after") == "1")
            #expect(response.header("retry-after-ms") == "1000")

            let anthropic = try await server.request(
                "/v1/messages", headers: via.script([("mode", "rate_limit")]).headers,
                body: Bodies.anthropic(fake: via.script([("mode", "rate_limit")]).fake))
            #expect(anthropic.status == 429)
            #expect(anthropic.json["error"]?["type"]?.stringValue == "rate_limit_error")
            #expect(anthropic.header("retry-after") == "1")
        }
    }

    @Test(arguments: ScriptVia.allCases)
    func cutStreamEndsCleanlyWithoutTerminalEvents(via: ScriptVia) async throws {
        try await withFakeServer { server in
            let openAI = try await openAI(server, via, [("mode", "cut_stream")], stream: true)
            #expect(openAI.ended)  // the chunked body ended cleanly
            #expect(openAI.events.count >= 2)
            #expect(!openAI.events.contains { $0.data == "[DONE]" })

            let (headers, fake) = via.script([("mode", "cut_stream")])
            let anthropic = try await server.request(
                "/v1/messages", headers: headers, body: Bodies.anthropic(stream: true, fake: fake))
            #expect(anthropic.ended)
            #expect(anthropic.events.first?.event == "message_start")
            #expect(!anthropic.events.contains { $0.event == "message_stop" })
            let stats = try await settled(server, requests: 2)
            #expect(stats.responsesCompleted == 2)
        }
    }

    @Test(arguments: ScriptVia.allCases)
    func latencyIsCancelledWhenTheClientLeaves(via: ScriptVia) async throws {
        try await withFakeServer { server in
            let (headers, fake) = via.script([("latency_ms", "60000")])
            try await TestConnection.with(port: server.port) { connection in
                try await connection.send("/v1/chat/completions", headers: headers, body: Bodies.openAI(fake: fake))
                try await server.waitForStats { $0.inFlight == 1 }
            }
            let stats = try await server.waitForStats { $0.clientDisconnectsBeforeResponseEnd == 1 }
            #expect(stats.records.first?.status == nil)  // the scheduled answer never ran
            #expect(stats.statusCounts.isEmpty)
        }
    }

    @Test(arguments: ScriptVia.allCases)
    func chunkDelayPacesEventsButDeliversThemAll(via: ScriptVia) async throws {
        try await withFakeServer { server in
            let response = try await server.request(
                "/v1/chat/completions", headers: via.script([("chunk_delay_ms", "2"), ("output_tokens", "3")]).headers,
                body: Bodies.openAI(stream: true, fake: via.script([("chunk_delay_ms", "2"), ("output_tokens", "3")]).fake))
            #expect(response.ended)
            #expect(response.events.count == 6)  // role, 3 deltas, finish, [DONE]
            #expect(response.events.last?.data == "[DONE]")
        }
    }

    @Test func chunkDelayDeliversTheFirstEventBeforeTheResponseEnds() async throws {
        try await withFakeServer { server in
            try await TestConnection.with(port: server.port) { connection in
                try await connection.send(
                    "/v1/chat/completions", headers: [("x-fake-chunk-delay-ms", "300")],
                    body: Bodies.openAI(maxTokens: 2, stream: true))
                let first = try await connection.readHead(minimumBodyBytes: 1)
                #expect(first.text.hasPrefix("data: {"))
                #expect(!first.ended)
                // Ordering, not timing: 4 gaps of 300 ms remain before the server can finish.
                #expect(server.stats().responsesCompleted == 0)
                let rest = await connection.readResponse()
                #expect(rest.ended)
                #expect((first.text + rest.text).hasSuffix("data: [DONE]\n\n"))
            }
        }
    }
}
