import Testing

/// Waits until `condition` holds, for a state no event signals (a gauge of the engine, the
/// transport's pool, a file another process writes); `false`, with an issue recorded at the
/// caller naming `what`, when it still does not hold after `timeout` of real time.
///
/// The first hundred reads are separated by `Task.yield()` only, so a condition another task makes
/// true at once is seen at once; after that, reads are `pollInterval` apart, so a long wait does
/// not spin one of the machine's few cores against the work it waits for. The pause only paces
/// the reads: the condition, not the time, decides when the wait ends.
///
/// Use it only where nothing can be awaited instead (a continuation, `waitForStats`, a
/// `Latch`); a test that goes on after `false` should expect its later checks to fail.
@discardableResult
public func waitUntil(
    _ what: @autoclosure () -> String,
    timeout: Duration = .seconds(10),
    pollInterval: Duration = .milliseconds(1),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let clock = ContinuousClock()
    let end = clock.now + timeout
    var reads = 0
    while try await !condition() {
        guard clock.now < end, !Task.isCancelled else {
            let why = Task.isCancelled ? "cancelled" : "gave up after \(timeout)"
            Issue.record("\(why) waiting until \(what())", sourceLocation: sourceLocation)
            return false
        }
        reads += 1
        if reads < 100 {
            await Task.yield()
        } else {
            try? await Task.sleep(for: pollInterval)
        }
    }
    return true
}
