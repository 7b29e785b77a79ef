import ArgumentParser
import FakeLLM
import Foundation
import VolleyJSON

/// The `volley-fake-llm` command: runs a FakeLLM server until SIGINT or SIGTERM.
@main
struct VolleyFakeLLM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volley-fake-llm",
        abstract: "Run an OpenAI/Anthropic-compatible fake LLM server for tests and benchmarks.",
        discussion: """
            The server speaks HTTP/1.1 with keep-alive and answers:
              POST /v1/chat/completions   OpenAI chat completions (JSON, or SSE)
              POST /v1/responses          OpenAI Responses API (JSON, or SSE events)
              POST /v1/completions        OpenAI legacy text completions (JSON, or SSE)
              POST /v1/embeddings         OpenAI embeddings: unit vectors seeded by the input text (floats or base64)
              POST /v1/messages           Anthropic Messages API (JSON, or SSE)
              GET  /v1/models             a small model list
              GET  /fake/stats            the server's counters as JSON
              POST /fake/reset            zero the counters

            Replies are deterministic: "Echo: " and the start of the last user message, then filler words, one token per word. Prompt tokens are ceil(characters / 4). Embeddings are charged their input tokens only.

            Each request can script its own answer with x-fake-<key> headers or a "fake" object in the JSON body (the body wins). Keys: latency_ms, status, retry_after, retry_after_ms, should_retry, reply, output_tokens, tool_call, chunk_delay_ms, fail_rate, mode, cached_tokens (prompt tokens reported as read from the cache). Modes: ok, reset, stall, stall_headers, malformed, insufficient_quota, rate_limit, cut_stream, reset_stream, garbage_chunked, truncated_chunked. Example: x-fake-mode: rate_limit

            Broken transports: reset sends the head and half the body, then a TCP RST (reset_stream: half the events, then RST); stall sends as much and then nothing; stall_headers reads the request and never answers; garbage_chunked answers 200 with Transfer-Encoding: chunked, half the body (or events) as valid chunks, then a chunk-size line that is not hexadecimal, then closes; truncated_chunked answers 200 chunked with a chunk that carries half the bytes its size line announces, then closes cleanly (FIN) without the final zero-size chunk.

            Stricter servers: --request-burst turns the request bucket into a per-second leaky bucket with a small burst (--rpm 600 --request-burst 2: two back to back, then one per 100 ms). --no-rate-limit-headers answers a bare 429 and sends no rate-limit headers at all. --retry-after-on-429 puts one fixed retry-after on every rate-limit 429. --max-in-flight answers 429 at once to a model request arriving while that many are in flight (--no-concurrency-hint hides the cause from the body).

            Once listening, the server prints exactly one line to stdout and nothing else:
              {"base_url":"http://127.0.0.1:PORT","port":PORT}
            so a script can start it with --port 0 and read the port. Diagnostics go to stderr. SIGINT or SIGTERM stops it with exit status 0.
            """)

    @Option(help: "Address to listen on; only this address is bound.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free port, printed on stdout.")
    var port = 0

    @Option(help: "Delay before each answer, in milliseconds (for SSE: before the first event).")
    var latencyMs: Double = 0

    @Option(help: "Spread the delay uniformly over latency-ms ± this many milliseconds (seeded).")
    var latencyJitterMs: Double = 0

    @Option(help: "Requests-per-minute limit; requests over it get 429 with retry-after and rate-limit headers.")
    var rpm: Int?

    @Option(help: "Tokens-per-minute limit; a request costs its prompt tokens plus max_tokens (or --output-tokens).")
    var tpm: Int?

    @Option(help: "Seconds of limit a bucket holds: capacity is limit * burst-seconds / 60 (at least 1).")
    var burstSeconds: Double = 1

    @Option(
        help: ArgumentHelp(
            "Requests the --rpm bucket holds, instead of rpm * burst-seconds / 60; it still refills at rpm / 60 per second.",
            valueName: "n"))
    var requestBurst: Int?

    @Flag(help: "Send no x-ratelimit-* / anthropic-ratelimit-* headers, and no retry-after on a 429 of the limits (a bare 429).")
    var noRateLimitHeaders = false

    @Option(
        name: .customLong("retry-after-on-429"),
        help: ArgumentHelp(
            "Send exactly this retry-after (and retry-after-ms) on every rate-limit 429 instead of the computed wait, even with --no-rate-limit-headers.",
            valueName: "seconds"))
    var retryAfterOn429: Double?

    @Option(
        help: ArgumentHelp(
            "Most model requests in flight (latency included); one more is answered 429 at once, uncharged (code concurrency_limit_exceeded).",
            valueName: "k"))
    var maxInFlight: Int?

    @Flag(help: "Answer a --max-in-flight refusal with a generic \"Rate limit exceeded\" body that does not mention concurrency.")
    var noConcurrencyHint = false

    @Option(help: "Fraction (0 to 1) of model requests that fail with --fail-status, drawn from --seed.")
    var failRate: Double = 0

    @Option(help: "HTTP status of the random failures.")
    var failStatus = 500

    @Option(help: "Seed for random latency and failures; the same seed repeats the same run.")
    var seed: UInt64 = 1

    @Option(help: "Output tokens per reply unless a request asks for fewer (max_tokens) or scripts output_tokens.")
    var outputTokens = 16

    @Flag(help: "Accept connections but never read or answer (clients time out).")
    var silent = false

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535.") }
        guard latencyMs >= 0, latencyJitterMs >= 0 else {
            throw ValidationError("--latency-ms and --latency-jitter-ms must be >= 0.")
        }
        guard (0...1).contains(failRate) else { throw ValidationError("--fail-rate must be from 0 to 1.") }
        guard (200...599).contains(failStatus) else { throw ValidationError("--fail-status must be from 200 to 599.") }
        guard rpm.map({ $0 > 0 }) ?? true, tpm.map({ $0 > 0 }) ?? true else {
            throw ValidationError("--rpm and --tpm must be > 0.")
        }
        guard burstSeconds > 0 else { throw ValidationError("--burst-seconds must be > 0.") }
        if let requestBurst {
            guard requestBurst >= 1 else { throw ValidationError("--request-burst must be >= 1.") }
            guard rpm != nil else { throw ValidationError("--request-burst needs --rpm.") }
        }
        if let retryAfterOn429 {
            guard retryAfterOn429.isFinite, retryAfterOn429 >= 0 else {
                throw ValidationError("--retry-after-on-429 must be a number of seconds >= 0.")
            }
        }
        guard maxInFlight.map({ $0 >= 1 }) ?? true else { throw ValidationError("--max-in-flight must be >= 1.") }
        guard outputTokens >= 0 else { throw ValidationError("--output-tokens must be >= 0.") }
    }

    func run() async throws {
        var configuration = FakeLLMConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.latency =
            latencyJitterMs > 0
            ? .uniform(min: max(0, latencyMs - latencyJitterMs), max: latencyMs + latencyJitterMs)
            : .fixed(milliseconds: latencyMs)
        configuration.requestsPerMinute = rpm
        configuration.tokensPerMinute = tpm
        configuration.burstSeconds = burstSeconds
        configuration.requestBurst = requestBurst
        configuration.rateLimitHeaders = !noRateLimitHeaders
        configuration.retryAfterSecondsOn429 = retryAfterOn429
        configuration.maxInFlight = maxInFlight
        configuration.concurrencyHintInBody = !noConcurrencyHint
        configuration.failureRate = failRate
        configuration.failureStatus = failStatus
        configuration.seed = seed
        configuration.defaultOutputTokens = outputTokens
        configuration.silent = silent
        configuration.recordRequests = false

        let signals = TerminationSignals()
        let server = try await FakeLLMServer.start(configuration)
        // One write(2), unbuffered: `print` to a pipe would sit in stdio's buffer until exit.
        var line = JSONValue.object(["base_url": .string(server.baseURL), "port": JSONValue(server.port)]).jsonBytes
        line.append(UInt8(ascii: "\n"))
        FileHandle.standardOutput.write(Data(line))
        let signal = await signals.next()
        FileHandle.standardError.write(Data("volley-fake-llm: signal \(signal), shutting down\n".utf8))
        try await server.shutdown()
    }
}
