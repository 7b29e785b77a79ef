/// How the server delivers (or fails to deliver) one response, chosen with the `mode` script key.
public enum FakeMode: String, Sendable, CaseIterable, Equatable {
    /// A normal, complete answer.
    case ok
    /// Status line, headers and part of the body, then the connection is aborted with a TCP RST
    /// (`SO_LINGER` 0, then close). For a streaming request: some events, then RST.
    case reset
    /// Headers and part of the body (or some events), then nothing more; the connection stays
    /// open until the client goes away.
    case stall
    /// The request is read and never answered.
    case stallHeaders = "stall_headers"
    /// Status 200 with a truncated, invalid JSON body whose `Content-Length` is correct.
    /// For a streaming request, the second event's bytes are cut short; the rest follows.
    case malformed
    /// 429 `insufficient_quota` (OpenAI) without any retry headers.
    case insufficientQuota = "insufficient_quota"
    /// 429 as if the rate limit were hit, with `retry-after` and rate-limit headers.
    case rateLimit = "rate_limit"
    /// SSE: some events, then the chunked body ends cleanly without `data: [DONE]`,
    /// `message_stop` or `response.completed`. On a non-streaming request (embeddings are
    /// never streamed) this acts as `malformed`.
    case cutStream = "cut_stream"
    /// SSE: some events, then TCP RST. On a non-streaming request this acts as `reset`.
    case resetStream = "reset_stream"
    /// Status 200 with `Transfer-Encoding: chunked`: the first half of the body (or the first
    /// events) as valid chunks, then a chunk-size line that is not hexadecimal, then the
    /// connection is closed. A client must call it a framing error, not a body.
    case garbageChunked = "garbage_chunked"
    /// Status 200 with `Transfer-Encoding: chunked`: a chunk whose size line announces the whole
    /// body (or the next event) but carries only half of it, then the connection is closed
    /// cleanly (FIN, not RST), without the terminating zero-size chunk.
    case truncatedChunked = "truncated_chunked"
}
