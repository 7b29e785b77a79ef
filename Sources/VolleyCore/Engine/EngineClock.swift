/// Where the engine's time comes from: the scheduler's rate windows, cooldowns and deadlines,
/// retry backoff and the mock provider's latency all read and wait on one clock, so tests can
/// drive the whole engine in virtual time.
///
/// Times are seconds on a monotonic scale with an arbitrary origin.
public protocol EngineClock: Sendable {
    /// Seconds now.
    func now() -> Double
    /// Returns once `now() >= deadline`.
    /// - Throws: `CancellationError` when the calling task is cancelled first.
    func sleep(until deadline: Double) async throws
}

/// The real clock: `ContinuousClock` seconds since the clock was made.
public struct SystemClock: EngineClock {
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant

    public init() {
        origin = clock.now
    }

    public func now() -> Double {
        Self.seconds(clock.now - origin)
    }

    public func sleep(until deadline: Double) async throws {
        let delay = deadline - now()
        guard delay > 0 else {
            try Task.checkCancellation()
            return
        }
        try await Task.sleep(until: clock.now + .nanoseconds(Int64((delay * 1e9).rounded(.up))), clock: clock)
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
