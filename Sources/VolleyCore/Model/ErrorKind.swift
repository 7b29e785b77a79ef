/// Why an item failed, as the protocol names it (`error.kind` in an outcome).
public enum ErrorKind: String, Sendable, Hashable, CaseIterable {
    /// 429 from the provider (after retries).
    case rateLimited = "rate_limited"
    /// The account is out of quota (`insufficient_quota`); never retried.
    case quotaExceeded = "quota_exceeded"
    /// The request can never fit the limits or the context window.
    case tooLarge = "too_large"
    /// Any other HTTP status.
    case http
    /// The item's own `timeout` passed (retries included).
    case timeout
    /// The batch's `timeout` passed before the item finished.
    case deadlineExceeded = "deadline_exceeded"
    /// DNS, connect, TLS or certificate failure, or a connection lost mid-transfer.
    case connection
    /// The item was cancelled (by `cancel`, `fail_fast`, shutdown or a signal).
    case cancelled
    /// The item itself is malformed.
    case invalidRequest = "invalid_request"
    /// The provider answered with an unparseable body or an error body.
    case providerError = "provider_error"
    /// 503 or 529: the provider is overloaded.
    case overloaded
    /// Limits are shared in Redis (`shared_limits` with `on_unavailable: "fail"`) and Redis
    /// could not be reached: the request was not sent.
    case sharedLimitsUnavailable = "shared_limits_unavailable"
    /// The batch's `max_cost_usd` cannot afford the call's worst case (or has no price for its
    /// model): the request was not sent.
    case budgetExceeded = "budget_exceeded"
}
