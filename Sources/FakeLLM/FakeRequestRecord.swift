/// What the server saw and did for one request (kept when `recordRequests` is on).
public struct FakeRequestRecord: Sendable, Equatable {
    /// Request path without the query, e.g. `/v1/chat/completions`.
    public var path: String
    /// The `model` of the request body, if it had one.
    public var model: String?
    /// Status sent in the response head; `nil` when no head was sent (`stall_headers`, or the
    /// client left during the latency wait).
    public var status: Int?
    /// Which accepted connection carried the request (1-based, in accept order, never reset).
    public var connectionID: Int
    /// Seconds since server start when the full request had been read.
    public var receivedAt: Double
    /// Seconds since server start when the response ended, was aborted, or the client left.
    public var finishedAt: Double
    /// Prompt tokens counted for the request (0 for non-model endpoints).
    public var inputTokens: Int
    /// Output tokens in the answer (0 unless a model reply was sent).
    public var outputTokens: Int
    /// The scripted delivery mode.
    public var mode: FakeMode
    /// True when the client closed the connection before the response was fully written.
    public var clientDisconnected: Bool

    /// A record with every field given.
    public init(
        path: String, model: String?, status: Int?, connectionID: Int, receivedAt: Double,
        finishedAt: Double, inputTokens: Int, outputTokens: Int, mode: FakeMode, clientDisconnected: Bool
    ) {
        self.path = path
        self.model = model
        self.status = status
        self.connectionID = connectionID
        self.receivedAt = receivedAt
        self.finishedAt = finishedAt
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.mode = mode
        self.clientDisconnected = clientDisconnected
    }
}
