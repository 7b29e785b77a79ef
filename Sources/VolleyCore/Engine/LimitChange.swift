/// The adaptive controller changed a limiter's limits in force.
public struct LimitChange: Sendable, Equatable {
    public enum Cause: String, Sendable {
        /// The server refused a request (429 or overloaded).
        case refused
        /// Clean answers raised the limits back.
        case recovered
        /// The server's rate-limit headers stated a limit none was configured for.
        case learned
    }

    public var limiter: String
    /// Requests per minute in force, if a rate is.
    public var rpm: Double?
    /// Tokens per minute in force, if a `tpm` budget is.
    public var tpm: Double?
    /// Requests in flight allowed.
    public var concurrency: Int
    public var cause: Cause
}
