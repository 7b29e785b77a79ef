/// Errors thrown by `FakeLLMServer`.
public enum FakeLLMError: Error, Sendable {
    /// `waitForStats` ran out of time; carries the stats at that moment.
    case statsWaitTimedOut(FakeLLMStats)
    /// The configured host or port could not be used.
    case invalidAddress(String)
}
