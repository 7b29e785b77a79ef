import Synchronization
import Testing
import VolleyHTTP
import VolleyTestSupport
@testable import VolleyCore

/// The engine's timing behaviour (deadlines, timeouts, rate pacing, `retry.max_wait`) run on a
/// `ManualClock`: seconds of virtual time pass in microseconds of real time, and every step
/// of time is one the test takes, so each test is exact and deterministic.
///
/// Pattern: the batch runs in a child task; the test waits (by event, not polling) for the
/// engine to go to sleep on the clock, checks what it sleeps until, advances time, and waits
/// for the outcomes that time should produce before taking the next step.
@Suite struct VirtualTimeEngineTests {
    // MARK: - Deadlines and timeouts

    @Test func batchTimeoutOfThreeVirtualSecondsEndsTheSlowItemsInMilliseconds() async throws {
        let realStart = ContinuousClock.now
        let requests = [mockItem(0, latencyMs: 0)] + (1..<20).map { mockItem($0, latencyMs: 60_000) }
        try await withVirtualBatch(requests: requests, options: BatchOptions(concurrency: 5, timeoutSeconds: 3)) { batch in
            // Item 0 finished at once, so the batch started a fifth 60 s item: five attempts in
            // flight (the batch's concurrency, never more), each sleeping only until the
            // batch's deadline.
            try await batch.clock.waitForSleepers(atLeast: 5)
            #expect(batch.clock.sleepers == 5)
            #expect(batch.clock.deadlines == [3, 3, 3, 3, 3])
            let early = batch.outcomes.all
            #expect(early.map(\.outcome.index) == [0] && early.first?.outcome.isSuccess == true && early.first?.at == 0)

            batch.clock.advance(to: 3)
            let finished = try await batch.finish(advancingUpTo: 3)
            #expect(finished.steps.isEmpty)  // Nothing needed time past the deadline.
            #expect(finished.summary.succeeded == 1 && finished.summary.failed == 19 && finished.summary.cancelled == 0)
            let outcomes = batch.outcomes.all
            #expect(outcomes.count == 20)
            let expired = outcomes.filter { $0.outcome.error?.kind == .deadlineExceeded }
            #expect(Set(expired.map(\.outcome.index)) == Set(1..<20))
            #expect(expired.allSatisfy { $0.at == 3 })
            #expect(batch.clock.now() >= 3)
            #expect(abs(finished.summary.elapsedMs - 3000) < 1e-6)
        }
        #expect(realStart.duration(to: .now) < .seconds(2))
    }

    @Test func itemTimeoutOnASixtySecondMockIsTimeout() async throws {
        try await withVirtualBatch(requests: [mockItem(0, latencyMs: 60_000, timeout: 0.1)]) { batch in
            // The attempt sleeps only as long as the item's timeout allows.
            try await batch.clock.waitForSleepers(atLeast: 1)
            let deadline = try #require(batch.clock.nextDeadline)
            #expect(abs(deadline - 0.1) < 1e-9)
            batch.clock.advance(to: deadline)
            let finished = try await batch.finish(advancingUpTo: deadline)
            let outcome = try #require(batch.outcomes.all.first)
            #expect(outcome.outcome.error?.kind == .timeout)
            #expect(outcome.outcome.attempts == 1)
            #expect(abs(outcome.at - 0.1) < 1e-9)
            #expect(finished.summary.failed == 1 && finished.steps.isEmpty)
        }
    }

    // MARK: - Rate pacing

    @Test func rpmPacesOneRequestPerTenthOfAVirtualSecond() async throws {
        // rpm 600: one request every 0.1 s, the default burst of 1 (nothing back to back).
        let providers: JSONValue = ["paced": ["kind": "mock", "latency_ms": 0, "limits": ["rpm": 600, "concurrency": 100]]]
        let requests = (0..<11).map { virtualItem($0, provider: "paced") }
        try await withVirtualBatch(providers: providers, requests: requests) { batch in
            try await batch.outcomes.waitFor(count: 1)  // The first goes at once, at t = 0.
            // Then each tick of the scheduler's timer admits exactly one more. The test waits
            // for that outcome before the next tick, so each outcome's time is exact.
            for tick in 1...10 {
                try await batch.clock.waitForSleepers(atLeast: 1)
                let wake = try #require(batch.clock.nextDeadline)
                #expect(abs(wake - Double(tick) * 0.1) < 1e-6, "tick \(tick) woke at \(wake)")
                batch.clock.advance(to: wake)
                try await batch.outcomes.waitFor(count: tick + 1)
            }
            let finished = try await batch.finish(advancingUpTo: batch.clock.now())
            #expect(finished.summary.succeeded == 11)
            #expect(abs(finished.summary.elapsedMs - 1000) < 1, "elapsed \(finished.summary.elapsedMs) ms")
            let times = batch.outcomes.all.map(\.at)
            #expect(times.count == 11)
            for (tick, time) in times.enumerated() {
                #expect(abs(time - Double(tick) * 0.1) < 1e-6, "outcome \(tick) at \(time)")
            }
        }
    }

    // MARK: - retry.max_wait

    @Test func maxWaitFailsItemsThatWouldWaitLongerOnTheLimiter() async throws {
        // rpm 60: one start a second. With a two-second wait budget, of five items queued at
        // t = 0 the first starts at once, the second at 1 s, the third at 2 s; the fourth and
        // fifth would have to wait 3 and 4 s.
        let providers: JSONValue = ["mock": ["kind": "mock", "latency_ms": 0, "limits": ["rpm": 60, "concurrency": 100],
                                             "retry": ["max_wait": 2]]]
        let requests = (0..<5).map { mockItem($0, latencyMs: 0) }
        try await withVirtualBatch(providers: providers, requests: requests) { batch in
            try await batch.outcomes.waitFor(count: 1)
            // The engine has no event for "queued at the limiter", so this reads its gauge; it
            // must hold before time moves, or a late item would start its budget later.
            await waitUntil("four items queued at mock/mock-1") {
                batch.engine.statsJSON()["limiters"]?["mock/mock-1"]?["queued"]?.intValue == 4
            }
            #expect(batch.outcomes.all.first?.outcome.index == 0)

            try await batch.clock.waitForSleepers(atLeast: 1)
            let second = try #require(batch.clock.nextDeadline)
            #expect(abs(second - 1) < 1e-9)
            batch.clock.advance(to: second)
            try await batch.outcomes.waitFor(count: 2)

            try await batch.clock.waitForSleepers(atLeast: 1)
            let third = try #require(batch.clock.nextDeadline)
            #expect(abs(third - 2) < 1e-9)
            batch.clock.advance(to: third)
            let finished = try await batch.finish(advancingUpTo: 2)

            let outcomes = batch.outcomes.all
            #expect(outcomes.count == 5)
            let byIndex = Dictionary(uniqueKeysWithValues: outcomes.map { ($0.outcome.index, $0) })
            // Items start in index order (they queue in the order the batch starts them).
            #expect(byIndex[0]?.outcome.isSuccess == true && byIndex[0]?.at == 0, "\(describe(outcomes))")
            #expect(byIndex[1]?.outcome.isSuccess == true && byIndex[1]?.at == 1, "\(describe(outcomes))")
            for index in [3, 4] {
                let entry = try #require(byIndex[index])
                #expect(entry.outcome.error?.kind == .rateLimited, "#\(index): \(describe([entry]))")
                #expect(entry.outcome.error?.message.contains("max_wait") == true, "#\(index): \(describe([entry]))")
                #expect(entry.outcome.attempts == 0)
                #expect(entry.at == 2)  // Failed when the budget ran out, not later.
            }
            #expect(abs(finished.summary.elapsedMs - 2000) < 1e-6)
            // The third item's turn comes exactly when its two-second budget ends: a wait of
            // max_wait does not exceed max_wait, so it starts (SchedulerCore.poll grants before
            // it expires).
            #expect(byIndex[2]?.outcome.isSuccess == true && byIndex[2]?.at == 2, "\(describe(outcomes))")
            #expect(finished.summary.succeeded == 3 && finished.summary.failed == 2)
        }
    }

    @Test func retryAfterLongerThanTheWaitBudgetFailsAtOnce() async throws {
        let providers: JSONValue = ["mock": ["kind": "mock", "latency_ms": 0, "retry": ["max_wait": 5, "max_retries": 3]]]
        let script: JSONObject = ["fail": "rate_limited", "retry_after": 30, "fail_attempts": 1]
        try await withVirtualBatch(providers: providers, requests: [mockItem(0, latencyMs: 0, script: script)]) { batch in
            // The driver refuses to move time past 5 s: waiting out the hint would fail the test.
            let finished = try await batch.finish(advancingUpTo: 5)
            let outcome = try #require(batch.outcomes.all.first?.outcome)
            #expect(outcome.error?.kind == .rateLimited)
            #expect(outcome.error?.retryAfterSeconds == 30)
            #expect(outcome.attempts == 1)
            #expect(finished.steps.isEmpty && batch.clock.now() == 0)  // At once: no time passed at all.
        }
    }

    /// The contrast: the same hint within the budget is waited out, and the retry succeeds.
    @Test func retryAfterWithinTheWaitBudgetIsWaitedOut() async throws {
        let providers: JSONValue = ["mock": ["kind": "mock", "latency_ms": 0, "retry": ["max_wait": 60, "max_retries": 3]]]
        let script: JSONObject = ["fail": "rate_limited", "retry_after": 30, "fail_attempts": 1]
        try await withVirtualBatch(providers: providers, requests: [mockItem(0, latencyMs: 0, script: script)]) { batch in
            let finished = try await batch.finish(advancingUpTo: 60)
            let outcome = try #require(batch.outcomes.all.first)
            #expect(outcome.outcome.isSuccess && outcome.outcome.attempts == 2)
            // retry-after is obeyed, plus at most 1 s of jitter (and the limiter's cooldown, as long).
            #expect(outcome.at >= 30 && outcome.at <= 32, "retried at \(outcome.at)")
            #expect(!finished.steps.isEmpty)
        }
    }

    // MARK: - The clock itself

    @Test func manualClockWakesDueSleepersInOrderAndForgetsCancelledOnes() async throws {
        let clock = ManualClock()
        try await clock.sleep(until: 0)  // Due: returns at once.
        let woken = Recorded()
        let sleepers = [3.0, 1.0, 2.0].map { deadline in
            Task {
                try await clock.sleep(until: deadline)
                woken.append(deadline)
            }
        }
        try await clock.waitForSleepers(atLeast: 3)
        #expect(clock.deadlines == [1, 2, 3] && clock.nextDeadline == 1)

        clock.advance(to: 2.5)
        #expect(clock.now() == 2.5)
        #expect(clock.sleepers == 1 && clock.nextDeadline == 3)
        try await sleepers[1].value
        try await sleepers[2].value
        #expect(Set(woken.values) == [1, 2])

        sleepers[0].cancel()
        await #expect(throws: CancellationError.self) { try await sleepers[0].value }
        #expect(clock.sleepers == 0 && clock.nextDeadline == nil)
        clock.advance(by: 1)
        #expect(clock.now() == 3.5 && woken.values.count == 2)

        // A sleeper whose task is already cancelled never registers.
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(until: 100)
        }
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(clock.sleepers == 0)
    }

    @Test func waitForSleepersIsBoundedAndCancellable() async throws {
        let clock = ManualClock()
        let realStart = ContinuousClock.now
        await #expect(throws: ManualClock.SleepersTimeout.self) {
            try await clock.waitForSleepers(atLeast: 1, timeout: .milliseconds(50))
        }
        #expect(realStart.duration(to: .now) < .seconds(5))

        let waiter = Task { try await clock.waitForSleepers(atLeast: 2) }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }

    // MARK: - Cancellation

    @Test func cancellingAFailFastBatchIsACancellationNotAFailure() async throws {
        let requests = (0..<8).map { mockItem($0, latencyMs: 60_000) }
        try await withVirtualBatch(requests: requests, options: BatchOptions(concurrency: 4, failFast: true)) { batch in
            try await batch.clock.waitForSleepers(atLeast: 4)
            batch.task.cancel()
            let summary = await batch.task.value
            // fail_fast must not read the cancelled items as the first failure (that answered
            // -32803 "item N failed: cancelled" instead of -32800).
            guard case .cancelled? = summary.stop else {
                Issue.record("stop is \(String(describing: summary.stop)), not .cancelled")
                return
            }
            #expect(summary.cancelled == 8 && summary.failed == 0)
        }
    }
}

