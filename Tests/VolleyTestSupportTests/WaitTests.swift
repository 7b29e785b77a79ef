import Testing
import VolleySystem
import VolleyTestSupport

/// The harness's own waits: each ends when its condition holds, and gives up, saying so, when
/// it never does.
@Suite struct WaitTests {
    @Test func waitUntilReturnsOnceTheConditionHolds() async {
        let reads = Locked(0)
        let held = await waitUntil("the third read") { reads.withLock { $0 += 1; return $0 >= 3 } }
        #expect(held)
        #expect(reads.withLock { $0 } == 3)
    }

    @Test func waitUntilGivesUpAfterItsTimeoutWithAnIssue() async {
        let clock = ContinuousClock()
        let start = clock.now
        var held = true
        await withKnownIssue("the wait records why it gave up") {
            held = await waitUntil("a condition that never holds", timeout: .milliseconds(50)) { false }
        } matching: { issue in
            issue.comments.contains { $0.rawValue.contains("a condition that never holds") }
        }
        #expect(!held)
        #expect(clock.now - start >= .milliseconds(50))
    }

    @Test func aLatchHandsItsValueToWaitersBeforeAndAfterItIsSet() async throws {
        let latch = Latch<Int>(name: "the answer")
        async let early = latch.wait()
        latch.set(42)
        latch.set(7)  // later calls do nothing
        #expect(try await early == 42)
        #expect(try await latch.wait() == 42)
    }

    @Test func aLatchWaitTimesOutNamingWhatItAwaited() async {
        let latch = Latch<Void>(name: "a value nobody sets")
        let error = await #expect(throws: HarnessError.self) { try await latch.wait(timeout: 0.05) }
        #expect(error?.description.contains("a value nobody sets") == true)
    }
}
