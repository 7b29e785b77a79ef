import Foundation
import Testing
import VolleyHTTP
import VolleyTestSupport

/// The nginx gateway used to test the limiter: that its limits and its access log behave as
/// its documentation says, through the project's own transport.
@Suite(.serialized, .tags(.timeSensitive)) struct NginxLimitServerTests {
    @Test func rateLimitAcceptsTheBurstPlusOneAndRefusesTheRestBare() async throws {
        let server = try await NginxLimitServer.start(limit: .rate(perSecond: 10, burst: 2))
        let client = try HTTPClient()
        let responses = try await fire(10, at: server, client: client)
        await client.shutdown()
        await server.shutdown()
        let log = try server.accessLog()
        // nginx admits one every 100 ms: the ten must reach it within 100 ms of each other.
        let context = "arrivals spread over \(Int(log.arrivalSpreadSeconds * 1000)) ms; statuses \(responses.map(\.status))"
        #expect(responses.count { $0.status == 200 } == 3, "\(context)")
        #expect(responses.count { $0.status == 429 } == 7, "\(context)")
        for response in responses where response.status == 200 {
            #expect(response.text.contains(#""object":"chat.completion""#))
        }
        for response in responses where response.status == 429 {
            #expect(response.headers["retry-after"] == nil)
            #expect(response.info.retryAfterSeconds == nil)
            #expect(response.headers.allSatisfy { !$0.name.lowercased().hasPrefix("x-ratelimit") })
            #expect(response.text == NginxLimitServer.rateLimitedBody)
        }
        #expect(log.requests == 10)
        #expect(log.accepted == 3)
        #expect(log.rateLimited == 7)
        #expect(log.countsByStatus == [200: 3, 429: 7])
    }

    @Test func inFlightLimitRefusesOnlyTheRequestsPastTheLimit() async throws {
        let server = try await NginxLimitServer.start(limit: .inFlight(3), latencyMs: 300)
        let client = try HTTPClient()
        let responses = try await fire(6, at: server, client: client)
        await client.shutdown()
        await server.shutdown()
        #expect(responses.count { $0.status == 200 } == 3, "\(responses.map(\.status))")
        #expect(responses.count { $0.status == 429 } == 3, "\(responses.map(\.status))")
        // The accepted ones were held for the latency; the refused ones were answered at once.
        #expect(responses.filter { $0.status == 200 }.allSatisfy { $0.info.timeToFirstByteSeconds >= 0.3 })
        #expect(responses.filter { $0.status == 429 }.allSatisfy { $0.info.totalSeconds < 0.3 })
        let log = try server.accessLog()
        #expect(log.countsByStatus == [200: 3, 429: 3])
        #expect(log.peakConcurrentAccepted() == 3)
        // nginx's clock counts whole milliseconds (and the subtraction rounds): 1 ms of slack.
        #expect(log.entries.filter { $0.status == 200 }.allSatisfy { $0.end - $0.start >= 0.299 })
    }

    @Test func retryAfterIsSentWhenConfigured() async throws {
        let server = try await NginxLimitServer.start(limit: .rate(perSecond: 1, burst: 0), retryAfterSeconds: 5)
        let client = try HTTPClient()
        // One at a time: the first uses the allowance, the second comes well within 1 s.
        let first = try await client.execute(completionRequest(server))
        let second = try await client.execute(completionRequest(server))
        await client.shutdown()
        await server.shutdown()
        #expect(first.status == 200)
        #expect(first.headers["retry-after"] == nil)
        #expect(second.status == 429)
        #expect(second.headers["retry-after"] == "5")
        #expect(second.info.retryAfterSeconds == 5)
        #expect(second.text.contains("rate_limit_exceeded"))
        #expect(!second.text.contains("concurrent"))
        #expect(try server.accessLog().countsByStatus == [200: 1, 429: 1])
    }

    @Test func withoutALimitEveryRequestIsAcceptedAndLogged() async throws {
        let server = try await NginxLimitServer.start(latencyMs: 50)
        let client = try HTTPClient(configuration: HTTPClientConfiguration(maxConnectionsPerHost: 4))
        let responses = try await fire(40, at: server, client: client)
        let wrongMethod = try await client.execute(HTTPRequest(url: server.baseURL + "/chat/completions", timeoutSeconds: 10))
        let wrongPath = try await client.execute(completionRequest(server, path: "/embeddings"))
        // While it runs, the log already holds the first forty (each line is written as its
        // response is sent, and these responses were received before the two above).
        let running = try server.accessLog()
        await client.shutdown()
        await server.shutdown()
        #expect(responses.allSatisfy { $0.status == 200 && $0.info.httpVersion == .http1_1 })
        #expect(responses.allSatisfy { $0.text.trimmingCharacters(in: .newlines) == NginxLimitServer.completionBody })
        #expect(wrongMethod.status == 405)
        #expect(wrongPath.status == 404)
        #expect(running.accepted == 40)
        let log = try server.accessLog()
        #expect(log.countsByStatus == [200: 40, 405: 1, 404: 1])
        // Four connections, each carrying one 50 ms request after another: four at once.
        #expect(log.peakConcurrentAccepted() == 4)
        #expect(log.acceptedPerSecond() > 0)
    }

    @Test func accessLogArithmetic() throws {
        let log = try NginxAccessLog(parsing: """
            200 1000.300 0.300
            429 1000.001 0.000
            200 1000.400 0.300
            200 1000.700 0.300

            200 1000.500 0.000
            """)
        #expect(log.entries.first == NginxAccessLog.Entry(status: 200, start: 1000.0, end: 1000.3))
        #expect(log.requests == 5 && log.accepted == 4 && log.rateLimited == 1)
        // [0, 300), [100, 400), [400, 700), [500, 501) in ms: the third starts as the second ends.
        #expect(log.peakConcurrentAccepted() == 2)
        // Four 200s starting from 1000.0 to 1000.5.
        #expect(abs(log.acceptedPerSecond() - 8) < 1e-9)
        #expect(throws: NginxAccessLog.ParseError.self) { _ = try NginxAccessLog(parsing: "200 1000.3 0.300") }
    }

    /// `count` chat completions at once; the responses in the order they finished.
    private func fire(_ count: Int, at server: NginxLimitServer, client: HTTPClient) async throws -> [HTTPResponse] {
        let request = completionRequest(server)
        return try await withThrowingTaskGroup(of: HTTPResponse.self) { group in
            for _ in 0..<count { group.addTask { try await client.execute(request) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    private func completionRequest(_ server: NginxLimitServer, path: String = "/chat/completions") -> HTTPRequest {
        let body = #"{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#
        return HTTPRequest(
            url: server.baseURL + path,
            method: "POST",
            headers: ["content-type": "application/json"],
            body: Array(body.utf8),
            timeoutSeconds: 20
        )
    }
}
