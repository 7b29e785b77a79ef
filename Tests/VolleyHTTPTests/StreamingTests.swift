import FakeLLM
import Testing
import VolleyTestSupport
@testable import VolleyHTTP

@Suite(.tags(.timeSensitive)) struct StreamingTests {
    @Test func theFirstEventArrivesWhileTheServerIsStillSending() async throws {
        // Five seconds between events: the first one must reach us long before the last is
        // written, however slow the machine. Then stop listening (the transfer is aborted).
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient()
        let request = chatRequest(server, script: ["chunk_delay_ms": "5000", "output_tokens": "4"], stream: true)
        var completedWhenFirstEventArrived: Int?
        for try await part in client.stream(request, sse: .openAI) {
            if case .event = part {
                completedWhenFirstEventArrived = server.stats().responsesCompleted
                break
            }
        }
        #expect(completedWhenFirstEventArrived == 0)
        try await server.waitForStats { $0.clientDisconnectsBeforeResponseEnd == 1 }
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func openAIStreamDeliversEveryEventThenDoneThenEnd() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient()
        let request = chatRequest(server, script: ["chunk_delay_ms": "5", "output_tokens": "8"], stream: true)
        var events: [SSEEvent] = []
        var head: HTTPResponseHead?
        var ended = false
        for try await part in client.stream(request, sse: .openAI) {
            switch part {
            case .head(let h): head = h
            case .event(let event): events.append(event)
            case .body: Issue.record("raw body chunk in SSE mode")
            case .end: ended = true
            }
        }
        #expect(head?.status == 200)
        #expect(head?.headers["content-type"]?.hasPrefix("text/event-stream") == true)
        #expect(events.count > 3)
        #expect(events.last?.data == "[DONE]")
        #expect(ended)
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func anthropicStreamEndsWithMessageStop() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient()
        let request = chatRequest(server, path: "/v1/messages", stream: true)
        var names: [String] = []
        for try await part in client.stream(request, sse: .anthropic) {
            if case .event(let event) = part, let name = event.event { names.append(name) }
        }
        #expect(names.first == "message_start")
        #expect(names.last == "message_stop")
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func streamCutBeforeItsTerminalEventIsAnError() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient()
        var received = 0
        let kind = await errorKind {
            for try await part in client.stream(chatRequest(server, script: ["mode": "cut_stream"], stream: true), sse: .openAI) {
                if case .event = part { received += 1 }
            }
        }
        #expect(kind == .streamTruncated)
        #expect(received > 0)
        let reset = await errorKind {
            for try await _ in client.stream(chatRequest(server, script: ["mode": "reset_stream"], stream: true), sse: .openAI) {}
        }
        #expect(reset == .connectionLost)
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func errorResponseOfAStreamIsDeliveredAsRawBody() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient()
        var status = 0
        var body: [UInt8] = []
        for try await part in client.stream(chatRequest(server, script: ["status": "500"], stream: true), sse: .openAI) {
            switch part {
            case .head(let head): status = head.status
            case .body(let bytes): body += bytes
            case .event: Issue.record("an error body is not parsed as events")
            case .end: break
            }
        }
        #expect(status == 500)
        #expect(String(decoding: body, as: UTF8.self).contains("server_error"))
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func stoppingIterationAbortsTheTransfer() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient()
        let request = chatRequest(server, script: ["chunk_delay_ms": "200", "output_tokens": "50"], stream: true)
        for try await part in client.stream(request, sse: .openAI) {
            if case .event = part { break }
        }
        try await server.waitForStats { $0.clientDisconnectsBeforeResponseEnd == 1 }
        await waitUntil("the aborted transfer to end") { client.stats.transfersRunning == 0 }
        #expect(client.stats.transfersRunning == 0)
        await client.shutdown()
        try await server.shutdown()
    }

    @Test func rawStreamYieldsBodyChunks() async throws {
        let server = try await FakeLLMServer.start(FakeLLMConfiguration())
        let client = try HTTPClient()
        var body: [UInt8] = []
        for try await part in client.stream(chatRequest(server, prompt: "raw")) {
            if case .body(let bytes) = part { body += bytes }
        }
        #expect(String(decoding: body, as: UTF8.self).contains("Echo: raw"))
        await client.shutdown()
        try await server.shutdown()
    }
}
