/// Why a model request is answered with an error instead of a reply.
enum FakeFailure: Sendable, Equatable {
    /// A scripted or random failure with this status, answered with the API's usual body for it.
    case status(Int)
    /// The body could not be used (invalid JSON, bad field, bad scripting): 400.
    case invalidRequest(message: String, param: String?)
    /// Out of quota: OpenAI 429 `insufficient_quota`, Anthropic 400 "credit balance is too low".
    case quota
    /// A rate limit: from the server's buckets, the `rate_limit` mode, or a scripted 429.
    /// `retryAfterSeconds` is nil when no retry headers go out.
    case rateLimit(kind: RateLimiter.Kind, limit: Int, used: Int, requested: Int, retryAfterSeconds: Double?)
    /// The token estimate exceeds the TPM bucket's capacity; retrying cannot help.
    case tooLarge(limit: Int, requested: Int)
    /// `limit` model requests were already in flight (`maxInFlight`); `hinted` says whether the
    /// body names the cause (`concurrencyHintInBody`) or is a generic rate-limit message.
    case concurrencyLimit(limit: Int, hinted: Bool)

    var status: Int {
        switch self {
        case .status(let code): return code
        case .invalidRequest: return 400
        case .quota, .rateLimit, .tooLarge, .concurrencyLimit: return 429
        }
    }
}
