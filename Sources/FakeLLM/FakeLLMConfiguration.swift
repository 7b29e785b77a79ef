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
    /// the estimate OpenAI charges up front.
    public var tokensPerMinute: Int? = nil
    /// Seconds of limit a bucket holds: capacity is `limit * burstSeconds / 60`, at least 1
    /// (`burstSeconds` is capped at one day).
    /// Buckets start full and refill continuously at `limit / 60` per second.
    public var burstSeconds: Double = 1
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
