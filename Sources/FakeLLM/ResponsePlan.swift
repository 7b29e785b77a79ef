/// Everything the connection handler needs to answer one request: what to send, when, and how
/// much of it. Built by `RequestPlanner` without touching the network.
struct ResponsePlan: Sendable {
    /// The response body: one block with a `Content-Length`, or SSE events sent chunked.
    enum Body: Sendable, Equatable {
        case full([UInt8])
        case events([[UInt8]])

        /// True for SSE events.
        var isEvents: Bool {
            if case .events = self { return true }
            return false
        }
    }

    /// How much of the response goes out, and how the exchange ends.
    enum Delivery: Sendable, Equatable {
        /// Everything, then the response ends.
        case complete
        /// The head and part of the body (or of the events), then a TCP RST.
        case partialThenReset
        /// The head and part of the body (or of the events), then silence until the client leaves.
        case partialThenStall
        /// Part of the events, then the chunked body ends cleanly (a cut stream).
        case partialThenEnd
        /// Nothing at all: the request is read and never answered.
        case never
        /// The head and part of the body in chunked encoding, then a chunk-size line that is not
        /// hexadecimal, then the connection is closed.
        case garbageChunked
        /// The head and part of the body in chunked encoding, the last chunk shorter than its
        /// size line says, then the connection is closed (FIN) without the final chunk.
        case truncatedChunked
    }

    var status: Int
    var headers: [(String, String)]
    var body: Body
    var delivery: Delivery = .complete
    /// Wait before the head (full bodies) or before the first event (SSE, whose head goes at once).
    var delayMilliseconds: Double = 0
    /// Wait between SSE events.
    var chunkDelayMilliseconds: Double = 0
    /// False for `/fake/*` requests, which stay out of the counters.
    var tracked: Bool = true
    var model: String?
    var mode: FakeMode = .ok
    var inputTokens: Int = 0
    var outputTokens: Int = 0
    /// True when the body is a model reply whose usage counts in the stats.
    var isModelReply: Bool = false
    /// True when the request holds a `maxInFlight` slot (`ServerCore.admitModelRequest`), which
    /// the connection handler gives back when the request finishes, however it ends.
    var holdsInFlightSlot: Bool = false

    init(status: Int, headers: [(String, String)], body: Body) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The bytes of a full body sent before a reset or stall: the first half (at least one byte).
    static func partial(of bytes: [UInt8]) -> [UInt8] {
        guard bytes.count > 1 else { return bytes }
        return Array(bytes.prefix(max(1, bytes.count / 2)))
    }

    /// How many events go out before a reset, stall or cut: half of them, at least one, and
    /// never the last (so the terminal event is always missing).
    static func partialEventCount(of total: Int) -> Int {
        guard total > 1 else { return 0 }
        return min(total - 1, max(1, total / 2))
    }
}
