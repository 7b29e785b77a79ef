/// Counters of a `FakeLLMServer` since it started or since its last `resetStats()`.
///
/// Requests to `/fake/*` (stats and reset) are not counted as requests, but their
/// connections are counted as connections.
public struct FakeLLMStats: Sendable, Equatable {
    /// Complete requests read (every endpoint but `/fake/*`).
    public var requests: Int = 0
    /// Responses whose last byte was written to the socket (cut streams and malformed bodies
    /// included: they end cleanly at the HTTP level).
    public var responsesCompleted: Int = 0
    /// TCP connections accepted.
    public var connectionsAccepted: Int = 0
    /// TCP connections open now (a gauge: a reset keeps it).
    public var connectionsOpen: Int = 0
    /// Most connections open at once.
    public var peakConnections: Int = 0
    /// Requests read and not yet finished (a gauge: a reset keeps it).
    public var inFlight: Int = 0
    /// Most requests in flight at once (requests refused by `maxInFlight` included: they are
    /// in flight while their 429 is written).
    public var peakInFlight: Int = 0
    /// Model requests (every `POST /v1/…` endpoint: chat, responses, completions, embeddings,
    /// messages) in flight that the `maxInFlight`
    /// cap let through, whatever their answer (a gauge: a reset keeps it). Counted with or
    /// without a cap.
    public var inFlightAdmitted: Int = 0
    /// Most model requests in flight at once that were not refused by `maxInFlight`.
    public var peakInFlightAdmitted: Int = 0
    /// Model requests answered 429 because `maxInFlight` of them were already in flight (these
    /// 429s count in `rateLimited` and `statusCounts` too).
    public var inFlightRefused: Int = 0
    /// Requests whose client closed the connection before the full response was written, the
    /// way a test sees that a cancelled transfer really was aborted. Server-side aborts
    /// (`reset` modes) are not counted here.
    public var clientDisconnectsBeforeResponseEnd: Int = 0
    /// 429 responses sent, whatever their cause.
    public var rateLimited: Int = 0
    /// Response heads sent, by status.
    public var statusCounts: [Int: Int] = [:]
    /// Prompt tokens of the model replies sent (embeddings' input tokens included).
    public var inputTokens: Int = 0
    /// Output tokens of the model replies sent (none for embeddings).
    public var outputTokens: Int = 0
    /// One record per finished request when `recordRequests` is on, in finishing order.
    public var records: [FakeRequestRecord] = []

    /// Empty counters.
    public init() {}
}
