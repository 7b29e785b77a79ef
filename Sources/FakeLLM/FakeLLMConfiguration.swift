/// How a `FakeLLMServer` behaves when a request does not script otherwise.
///
/// Every field has a default that gives a fast, always-successful server on an ephemeral port
/// of 127.0.0.1. Per-request scripting (`x-fake-*` headers or a `"fake"` body object) overrides
/// latency, status and failure behaviour for one request.
public struct FakeLLMConfiguration: Sendable {
    /// Address to bind. Only this address is listened on.
    public var host: String = "127.0.0.1"
    /// Port to bind; 0 picks a free ephemeral port (read it back from `FakeLLMServer.port`).
    public var port: Int = 0
    /// Delay before each answer (before the response head; for SSE, before the first event).
    public var latency: FakeLatency = .fixed(milliseconds: 0)
    /// Seed of the generator behind random latency and failure draws.
    public var seed: UInt64 = 1
    /// Server-side requests-per-minute limit; exceeding it answers 429. `nil` means no limit.
    public var requestsPerMinute: Int? = nil
    /// Server-side tokens-per-minute limit; exceeding it answers 429. `nil` means no limit.
    ///
    /// A request is charged its prompt tokens plus `max_tokens` (or `defaultOutputTokens`),
    /// the estimate OpenAI charges up front: `max_output_tokens` for responses, `max_tokens` for
    /// each prompt of a legacy completion, and no output at all for embeddings (input only).
    public var tokensPerMinute: Int? = nil
    /// Seconds of limit a bucket holds: capacity is `limit * burstSeconds / 60`, at least 1
    /// (`burstSeconds` is capped at one day).
    /// Buckets start full and refill continuously at `limit / 60` per second.
    public var burstSeconds: Double = 1
    /// Requests the request bucket holds, instead of `requestsPerMinute * burstSeconds / 60`
    /// (at least 1); it still refills at `requestsPerMinute / 60` per second. This models the
    /// stricter servers that enforce a per-second leaky bucket with a small burst: with
    /// `requestsPerMinute` 600 and `requestBurst` 2, two requests may arrive back to back and then
    /// one per 100 ms. `nil`: the capacity comes from `burstSeconds`. The token bucket is unaffected.
    public var requestBurst: Int? = nil
    /// Send the `x-ratelimit-*` (OpenAI) and `anthropic-ratelimit-*` headers on every response,
    /// and `retry-after` (and `retry-after-ms` for OpenAI) with the computed wait on each 429 of
    /// the limits. False models a server that answers a bare 429: no rate-limit headers on any
    /// response, no retry headers on a 429 of the limits (or of the `rate_limit` mode), and no
    /// "Please try again in" in the OpenAI message. Per-request `retry_after` / `retry_after_ms`
    /// scripting and `retryAfterSecondsOn429` still send theirs.
    public var rateLimitHeaders: Bool = true
    /// When set, every rate-limit 429 (the limits, `maxInFlight`, the `rate_limit` mode, a
    /// scripted status 429) carries exactly this `retry-after`, in seconds (rounded up to whole
    /// seconds; OpenAI's `retry-after-ms` gets the milliseconds), instead of the computed wait,
    /// even with `rateLimitHeaders` off. Out-of-quota and request-too-large 429s, which no retry
    /// fixes, get none; per-request `retry_after` / `retry_after_ms` scripting still wins.
    public var retryAfterSecondsOn429: Double? = nil
    /// Most model requests (any `POST /v1/…` model endpoint) in flight at once: one that
    /// arrives while this many are being processed (latency, stalls and streaming included, until
    /// the last byte is written or the client leaves) is answered 429 at once, before any
    /// scripting and without charging the rate limits. OpenAI's body has `code`
    /// `concurrency_limit_exceeded`, Anthropic's is a `rate_limit_error`; neither has a
    /// computed `retry-after`. `nil`: no cap. Refusals count in `FakeLLMStats.inFlightRefused`.
    public var maxInFlight: Int? = nil
    /// Whether a `maxInFlight` refusal says so ("Too many concurrent requests: at most K requests
    /// may be in flight"). False gives a generic "Rate limit exceeded" that does not mention
    /// concurrency, so the client has to infer the cap.
    public var concurrencyHintInBody: Bool = true
    /// Fraction (0...1) of model requests answered with `failureStatus`, drawn from the seed.
    public var failureRate: Double = 0
    /// Status of the random failures chosen by `failureRate`.
    public var failureStatus: Int = 500
    /// Accept TCP connections but never read from them or answer (a TLS client then times out
    /// in its connect phase, a plain HTTP client in its wait for the response).
    public var silent: Bool = false
    /// Close a connection after this many seconds with no bytes read or written, the way a
    /// server's keep-alive timeout closes idle pooled connections. `nil`: never.
    public var idleTimeoutSeconds: Double? = nil
    /// Keep one `FakeRequestRecord` per request in `FakeLLMStats.records`. The command line turns
    /// this off so a long benchmark does not grow memory.
    public var recordRequests: Bool = true
    /// Output tokens of a reply when the request does not script `output_tokens`
    /// (`max_tokens` still caps it).
    public var defaultOutputTokens: Int = 16

    /// A configuration with every default.
    public init() {}
}
