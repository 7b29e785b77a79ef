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
}
