import FakeLLMTestSupport
import Testing
import VolleyJSON

@testable import FakeLLM

/// Opens `count` connections, each sending one model request that stays in flight (scripted
/// with `headers`, e.g. `stall_headers` or a long latency), runs `body`, then closes them all.
///
/// The requests may not have been read yet when `body` starts: wait on the server's stats.
func withRequestsHeld<Result: Sendable>(
    _ count: Int, on server: FakeLLMServer, path: String = "/v1/chat/completions",
    headers: [(String, String)] = [("x-fake-mode", "stall_headers")], body requestBody: String = Bodies.openAI(),
    _ body: () async throws -> Result
) async throws -> Result {
    guard count > 0 else { return try await body() }
    return try await TestConnection.with(port: server.port) { connection in
        try await connection.send(path, headers: headers, body: requestBody)
        return try await withRequestsHeld(
            count - 1, on: server, path: path, headers: headers, body: requestBody, body)
    }
}

/// The headers every OpenAI error or reply of these tests carries, whatever the limits.
private let openAIBaseHeaders: Set<String> = [
    "content-type", "content-length", "x-request-id", "openai-organization", "openai-version", "openai-processing-ms",
]

private func headerNames(_ exchange: TestExchange) -> Set<String> {
    Set(exchange.head?.headers.map { $0.name.lowercased() } ?? [])
}

@Suite("Stricter servers: request burst, bare 429s, fixed retry-after, in-flight cap", .timeLimit(.minutes(1)))
struct StrictServerTests {
    // MARK: requestBurst

    /// 6 RPM (one request back every 10 s) and a minute of burst, but a request burst of 2: the
    /// third request in a row is refused however slow the machine is (under 10 s).
    @Test func requestBurstCapsTheRequestBucketOnly() async throws {
        try await withFakeServer({
            $0.requestsPerMinute = 6
            $0.tokensPerMinute = 600
            $0.burstSeconds = 60
            $0.requestBurst = 2
        }) { server in
            let first = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(first.status == 200)
            #expect(first.header("x-ratelimit-limit-requests") == "6")
            #expect(first.header("x-ratelimit-remaining-requests") == "1")  // 5 with burstSeconds' capacity of 6
            #expect(first.header("x-ratelimit-remaining-tokens") == "577")  // 600 - (7 + 16): tokens keep 60 s
            let reset = first.header("x-ratelimit-reset-requests").flatMap(goDurationSeconds)
            #expect(reset.map { $0 > 0 && $0 <= 10 } == true)  // one request short of 2, at 0.1/s

            let second = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(second.status == 200)
            #expect(second.header("x-ratelimit-remaining-requests") == "0")

            let third = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(third.status == 429)
            #expect(third.json["error"]?["type"]?.stringValue == "requests")
            #expect(third.json["error"]?["code"]?.stringValue == "rate_limit_exceeded")
            #expect((1...10).contains(third.header("retry-after").flatMap { Int($0) } ?? -1))
            #expect((1...10_000).contains(third.header("retry-after-ms").flatMap { Int($0) } ?? -1))
            #expect(server.stats().statusCounts == [200: 2, 429: 1])
        }
    }

    // MARK: rateLimitHeaders = false

    /// 3 RPM with 20 s of burst: capacity 1, so the second request is limited.
    static func bareRPM(_ configuration: inout FakeLLMConfiguration) {
        configuration.requestsPerMinute = 3
        configuration.burstSeconds = 20
        configuration.rateLimitHeaders = false
    }

    @Test func bare429OnOpenAIHasNoRetryOrRateLimitHeaders() async throws {
        try await withFakeServer(Self.bareRPM) { server in
            let first = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(first.status == 200)
            #expect(headerNames(first) == openAIBaseHeaders)

            let limited = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(limited.status == 429)
            #expect(headerNames(limited) == openAIBaseHeaders)
            let error = limited.json["error"]
            #expect(error?["type"]?.stringValue == "requests")
            #expect(error?["code"]?.stringValue == "rate_limit_exceeded")
            #expect(
                error?["message"]?.stringValue
                    == "Rate limit reached for gpt-4o-mini in organization org-fake on requests per min (RPM): "
                    + "Limit 3, Used 3, Requested 1. Visit https://platform.openai.com/account/rate-limits to learn more.")

            // The rate_limit mode is bare too; an explicit per-request script still sends its header.
            let mode = try await server.request(
                "/v1/chat/completions", headers: [("x-fake-mode", "rate_limit")], body: Bodies.openAI())
            #expect(mode.status == 429)
            #expect(headerNames(mode) == openAIBaseHeaders)
            let scripted = try await server.request(
                "/v1/chat/completions", headers: [("x-fake-mode", "rate_limit"), ("x-fake-retry-after", "5")],
                body: Bodies.openAI())
            #expect(scripted.header("retry-after") == "5")

            let stats = try await server.waitForStats { $0.responsesCompleted == 4 }
            #expect(stats.rateLimited == 3)
            #expect(stats.statusCounts == [200: 1, 429: 3])
        }
    }

    @Test func bare429OnAnthropicHasNoRetryOrRateLimitHeaders() async throws {
        try await withFakeServer({
            Self.bareRPM(&$0)
            $0.tokensPerMinute = 10_000
        }) { server in
            let first = try await server.request("/v1/messages", body: Bodies.anthropic())
            #expect(first.status == 200)
            #expect(headerNames(first) == ["content-type", "content-length", "request-id"])

            let limited = try await server.request("/v1/messages", body: Bodies.anthropic())
            #expect(limited.status == 429)
            #expect(headerNames(limited) == ["content-type", "content-length", "request-id"])
            #expect(limited.json["error"]?["type"]?.stringValue == "rate_limit_error")
        }
    }

    // MARK: retryAfterSecondsOn429

    @Test func fixedRetryAfterOnEveryRateLimit429() async throws {
        try await withFakeServer({
            $0.requestsPerMinute = 3
            $0.burstSeconds = 20
            $0.retryAfterSecondsOn429 = 42
        }) { server in
            _ = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            let limited = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(limited.status == 429)
            // The computed wait is at most 20 s; 42 can only be the fixed value.
            #expect(limited.header("retry-after") == "42")
            #expect(limited.header("retry-after-ms") == "42000")
            #expect(limited.header("x-ratelimit-remaining-requests") == "0")  // headers stay on
            #expect(limited.json["error"]?["message"]?.stringValue?.contains("Please try again in 42s.") == true)

            let anthropic = try await server.request("/v1/messages", body: Bodies.anthropic())
            #expect(anthropic.status == 429)
            #expect(anthropic.header("retry-after") == "42")
            #expect(anthropic.header("retry-after-ms") == nil)  // OpenAI's header only

            let scripted = try await server.request(
                "/v1/chat/completions", headers: [("x-fake-status", "429")], body: Bodies.openAI())
            #expect(scripted.status == 429)
            #expect(scripted.header("retry-after") == "42")

            let quota = try await server.request(
                "/v1/chat/completions", headers: [("x-fake-mode", "insufficient_quota")], body: Bodies.openAI())
            #expect(quota.status == 429)
            #expect(quota.header("retry-after") == nil)  // no wait fixes an empty quota
        }
    }

    @Test func fixedRetryAfterIsSentEvenWithoutRateLimitHeaders() async throws {
        try await withFakeServer({
            Self.bareRPM(&$0)
            $0.retryAfterSecondsOn429 = 2.5
        }) { server in
            let first = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(headerNames(first) == openAIBaseHeaders)
            let limited = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(limited.status == 429)
            #expect(headerNames(limited) == openAIBaseHeaders.union(["retry-after", "retry-after-ms"]))
            #expect(limited.header("retry-after") == "3")  // whole seconds, rounded up
            #expect(limited.header("retry-after-ms") == "2500")
        }
    }

    // MARK: maxInFlight

    /// A cap of 2 and 3 RPM with a request burst of 3 (one request back every 20 s), so every
    /// request charged shows in `x-ratelimit-remaining-requests`.
    static func cappedAt2(_ configuration: inout FakeLLMConfiguration) {
        configuration.maxInFlight = 2
        configuration.requestsPerMinute = 3
        configuration.requestBurst = 3
    }

    @Test func maxInFlightRefusesTheNextRequestWithoutChargingTheLimits() async throws {
        try await withFakeServer(Self.cappedAt2) { server in
            try await withRequestsHeld(2, on: server) {
                try await server.waitForStats { $0.inFlightAdmitted == 2 && $0.inFlight == 2 }
                let refused = try await server.request("/v1/chat/completions", body: Bodies.openAI())
                #expect(refused.status == 429)
                #expect(
                    refused.text
                        == JSONValue.object([
                            "error": .object([
                                "message": .string("Too many concurrent requests: at most 2 requests may be in flight"),
                                "type": .string("requests"), "param": .null,
                                "code": .string("concurrency_limit_exceeded"),
                            ])
                        ]).jsonString)
                #expect(refused.header("retry-after") == nil)  // nobody knows when a slot frees
                #expect(refused.header("retry-after-ms") == nil)
                #expect(refused.header("x-ratelimit-remaining-requests") == "1")  // the two held ones only
            }
            // Closing the held requests frees their slots.
            try await server.waitForStats { $0.inFlightAdmitted == 0 && $0.connectionsOpen == 0 }
            let next = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(next.status == 200)
            #expect(next.header("x-ratelimit-remaining-requests") == "0")  // 3 - 2 held - this one

            let stats = try await server.waitForStats { $0.records.count == 4 }
            #expect(stats.inFlightRefused == 1)
            #expect(stats.rateLimited == 1)
            #expect(stats.statusCounts == [429: 1, 200: 1])  // the held two never sent a head
            #expect(stats.peakInFlightAdmitted == 2)
            #expect(stats.peakInFlight == 3)  // the refused one was in flight beside the two
            #expect(stats.inFlight == 0)
            #expect(stats.clientDisconnectsBeforeResponseEnd == 2)
            let refusedRecord = stats.records.first { $0.status == 429 }
            #expect(refusedRecord?.model == "gpt-4o-mini")

            let json = try await server.request(.GET, "/fake/stats").json
            #expect(json["in_flight_admitted"]?.intValue == 0)
            #expect(json["peak_in_flight_admitted"]?.intValue == 2)
            #expect(json["in_flight_refused"]?.intValue == 1)
            #expect(json["rate_limited"]?.intValue == 1)
        }
    }

    @Test func maxInFlightCountsLatencyAndBothAPIsAndCanHideItsCause() async throws {
        try await withFakeServer({
            $0.maxInFlight = 1
            $0.concurrencyHintInBody = false
            $0.retryAfterSecondsOn429 = 7
        }) { server in
            // A reply held by a minute of latency is in flight until its client leaves.
            try await withRequestsHeld(
                1, on: server, path: "/v1/messages", headers: [("x-fake-latency-ms", "60000")], body: Bodies.anthropic()
            ) {
                try await server.waitForStats { $0.inFlightAdmitted == 1 && $0.inFlight == 1 }
                let anthropic = try await server.request("/v1/messages", body: Bodies.anthropic())
                #expect(anthropic.status == 429)
                #expect(
                    anthropic.text
                        == JSONValue.object([
                            "type": .string("error"),
                            "error": .object(["type": .string("rate_limit_error"), "message": .string("Rate limit exceeded")]),
                        ]).jsonString)
                #expect(anthropic.header("retry-after") == "7")
                #expect(anthropic.header("request-id")?.hasPrefix("req_") == true)

                let openAI = try await server.request("/v1/chat/completions", body: Bodies.openAI())
                #expect(openAI.status == 429)
                #expect(openAI.json["error"]?["message"]?.stringValue == "Rate limit exceeded")
                #expect(openAI.json["error"]?["code"]?.stringValue == "rate_limit_exceeded")
                #expect(openAI.json["error"]?["type"]?.stringValue == "requests")
                #expect(openAI.text.lowercased().contains("concurren") == false)
                #expect(openAI.header("retry-after") == "7")
                #expect(openAI.header("retry-after-ms") == "7000")

                // Only model requests are capped.
                let models = try await server.request(.GET, "/v1/models")
                #expect(models.status == 200)

                // A reset keeps the gauge, so the cap still holds after it.
                server.resetStats()
                #expect(server.stats().inFlightAdmitted == 1)
                #expect(server.stats().peakInFlightAdmitted == 1)
                let afterReset = try await server.request("/v1/chat/completions", body: Bodies.openAI())
                #expect(afterReset.status == 429)
            }
            let stats = try await server.waitForStats { $0.inFlightAdmitted == 0 && $0.clientDisconnectsBeforeResponseEnd == 1 }
            #expect(stats.inFlightRefused == 1)  // since the reset
            #expect(stats.peakInFlightAdmitted == 1)
            let after = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(after.status == 200)
        }
    }

    @Test func peakInFlightAdmittedIsCountedWithoutACap() async throws {
        try await withFakeServer { server in
            try await withRequestsHeld(3, on: server) {
                try await server.waitForStats { $0.inFlightAdmitted == 3 && $0.inFlight == 3 }
                let models = try await server.request(.GET, "/v1/models")  // in flight, but not a model request
                #expect(models.status == 200)
            }
            let stats = try await server.waitForStats { $0.inFlightAdmitted == 0 && $0.inFlight == 0 }
            #expect(stats.peakInFlightAdmitted == 3)
            #expect(stats.peakInFlight == 4)
            #expect(stats.inFlightRefused == 0)
            #expect(stats.rateLimited == 0)
        }
    }
}
