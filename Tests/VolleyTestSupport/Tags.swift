import Testing

/// What kind of test a suite is, so `scripts/test` can run each kind the way it needs.
///
/// `scripts/test` runs untagged tests in parallel, then the tests carrying either tag one at a
/// time (`--no-parallel`) in a process of their own. A suite that spawns the sidecar or waits in
/// real time must carry one of them, or it runs among the parallel ones and its timing suffers.
extension Tag {
    /// Measures behaviour in real time (transport timeouts, deadlines, rate limits, a real
    /// server's latency): a CPU-bound neighbour can stall it for a second.
    @Tag public static var timeSensitive: Self
    /// Spawns the built `volley` executable and talks to it as a host would.
    @Tag public static var endToEnd: Self
}
