import FakeLLMTestSupport
import Testing

@testable import FakeLLM

/// Seconds in a Go duration as OpenAI formats them ("1m30.5s", "12ms"), nil if malformed.
func goDurationSeconds(_ text: String) -> Double? {
    guard let match = text.wholeMatch(of: #/(?:(\d+)h)?(?:(\d+)m)?(\d+(?:\.\d+)?)(ms|s)/#) else { return nil }
    let hours = match.1.flatMap { Double($0) } ?? 0
    let minutes = match.2.flatMap { Double($0) } ?? 0
    guard let value = Double(match.3) else { return nil }
    if match.4 == "ms" { return hours == 0 && minutes == 0 ? value / 1000 : nil }
    return hours * 3600 + minutes * 60 + value
}

@Suite("Server-side RPM and TPM limits", .timeLimit(.minutes(1)))
struct LimitTests {
    @Test func goDurationHelperAgreesWithTheFormatter() {
        #expect(goDurationSeconds("1m30.5s") == 90.5)
        #expect(goDurationSeconds("12ms") == 0.012)
        #expect(goDurationSeconds("6m0s") == 360)
        #expect(goDurationSeconds("1h0m0s") == 3600)
        #expect(goDurationSeconds("1.5") == nil)
        #expect(goDurationSeconds("1m") == nil)
    }

    /// 3 RPM with 20 s of burst: capacity 1, refilled after 20 s, so the second request is
    /// always limited however slow the machine is.
    static func rpm(_ configuration: inout FakeLLMConfiguration) {
        configuration.requestsPerMinute = 3
        configuration.burstSeconds = 20
    }

    @Test func requestLimitAnswers429WithOpenAIHeaders() async throws {
        try await withFakeServer(Self.rpm) { server in
            let first = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(first.status == 200)
            #expect(first.header("x-ratelimit-limit-requests") == "3")
            #expect(first.header("x-ratelimit-remaining-requests") == "0")
            let firstReset = first.header("x-ratelimit-reset-requests").flatMap(goDurationSeconds)
            #expect(firstReset.map { $0 > 0 && $0 <= 20 } == true)
            #expect(first.header("x-ratelimit-limit-tokens") == nil)  // no TPM configured

            let limited = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(limited.status == 429)
            let names = Set(limited.head?.headers.map { $0.name.lowercased() } ?? [])
            #expect(
                names == [
                    "content-type", "content-length", "x-request-id", "openai-organization", "openai-version",
                    "openai-processing-ms", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
                    "x-ratelimit-reset-requests", "retry-after", "retry-after-ms",
                ])
            #expect(limited.header("x-ratelimit-limit-requests") == "3")
            #expect(limited.header("x-ratelimit-remaining-requests") == "0")
            #expect(limited.header("x-ratelimit-reset-requests").flatMap(goDurationSeconds) != nil)
            let retryAfter = limited.header("retry-after").flatMap { Int($0) } ?? -1
            let retryAfterMs = limited.header("retry-after-ms").flatMap { Int($0) } ?? -1
            #expect((1...20).contains(retryAfter))
            #expect((1...20_000).contains(retryAfterMs))
            #expect(retryAfter == (retryAfterMs + 999) / 1000)

            let error = limited.json["error"]
            #expect(error?["type"]?.stringValue == "requests")
            #expect(error?["code"]?.stringValue == "rate_limit_exceeded")
            #expect(error?["param"] == .null)
            let wait = GoDuration.format(nanoseconds: Int64(retryAfterMs) * 1_000_000)
            #expect(
                error?["message"]?.stringValue
                    == "Rate limit reached for gpt-4o-mini in organization org-fake on requests per min (RPM): "
                    + "Limit 3, Used 3, Requested 1. Please try again in \(wait). Visit "
                    + "https://platform.openai.com/account/rate-limits to learn more.")

            let stats = server.stats()
            #expect(stats.rateLimited == 1)
            #expect(stats.statusCounts == [200: 1, 429: 1])
        }
    }

    @Test func requestLimitOnAnthropicUsesItsHeaders() async throws {
        try await withFakeServer(Self.rpm) { server in
            let first = try await server.request("/v1/messages", body: Bodies.anthropic())
            #expect(first.status == 200)
            #expect(first.header("anthropic-ratelimit-requests-limit") == "3")
            #expect(first.header("anthropic-ratelimit-requests-remaining") == "0")
            let reset = first.header("anthropic-ratelimit-requests-reset") ?? ""
            #expect(reset.wholeMatch(of: #/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/#) != nil)

            let limited = try await server.request("/v1/messages", body: Bodies.anthropic())
            #expect(limited.status == 429)
            #expect(limited.json["type"]?.stringValue == "error")
            #expect(limited.json["error"]?["type"]?.stringValue == "rate_limit_error")
            #expect((1...20).contains(limited.header("retry-after").flatMap { Int($0) } ?? -1))
            #expect(limited.header("request-id")?.hasPrefix("req_") == true)
            #expect(limited.header("anthropic-ratelimit-requests-remaining") == "0")
        }
    }

    /// 10 TPM with a full minute of burst: capacity 10 tokens, one token back every 6 s.
    static func tpm(_ configuration: inout FakeLLMConfiguration) {
        configuration.tokensPerMinute = 10
        configuration.burstSeconds = 60
    }

    @Test func tokenLimitChargesPromptPlusMaxTokens() async throws {
        try await withFakeServer(Self.tpm) { server in
            // 7 prompt tokens + max_tokens 2 = 9 of 10.
            let first = try await server.request("/v1/chat/completions", body: Bodies.openAI(maxTokens: 2))
            #expect(first.status == 200)
            #expect(first.header("x-ratelimit-limit-tokens") == "10")
            #expect(first.header("x-ratelimit-remaining-tokens") == "1")
            #expect(first.header("x-ratelimit-reset-tokens").flatMap(goDurationSeconds).map { $0 > 0 && $0 <= 60 } == true)
            #expect(first.header("x-ratelimit-limit-requests") == nil)

            let limited = try await server.request("/v1/chat/completions", body: Bodies.openAI(maxTokens: 2))
            #expect(limited.status == 429)
            #expect(limited.json["error"]?["type"]?.stringValue == "tokens")
            #expect(limited.json["error"]?["code"]?.stringValue == "rate_limit_exceeded")
            #expect(
                limited.json["error"]?["message"]?.stringValue?.contains(
                    "on tokens per min (TPM): Limit 10, Used 9, Requested 9. Please try again in") == true)
            #expect(limited.header("retry-after") != nil)
            #expect(limited.header("x-ratelimit-remaining-tokens") == "1")

            let tooLarge = try await server.request("/v1/chat/completions", body: Bodies.openAI(maxTokens: 100))
            #expect(tooLarge.status == 429)
            #expect(tooLarge.json["error"]?["message"]?.stringValue?.hasPrefix("Request too large for gpt-4o-mini") == true)
            #expect(tooLarge.header("retry-after") == nil)
        }
    }

    @Test func tokenChargeUsesDefaultOutputTokensWithoutMaxTokens() async throws {
        try await withFakeServer({
            $0.tokensPerMinute = 30
            $0.burstSeconds = 60
            $0.defaultOutputTokens = 16
        }) { server in
            let response = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(response.header("x-ratelimit-remaining-tokens") == "7")  // 30 - (7 + 16)
        }
    }

    @Test func scriptedOutcomesDoNotChargeTheLimits() async throws {
        try await withFakeServer(Self.rpm) { server in
            let scripted = try await server.request(
                "/v1/chat/completions", headers: [("x-fake-status", "500")], body: Bodies.openAI())
            #expect(scripted.status == 500)
            #expect(scripted.header("x-ratelimit-remaining-requests") == "1")
            let real = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(real.status == 200)
        }
    }
}
