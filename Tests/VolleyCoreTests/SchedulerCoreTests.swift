import Testing
@testable import VolleyCore

struct SchedulerCoreTests {
    typealias Waiter = SchedulerCore.Waiter

    @Test func grantsUpToConcurrencyThenOnRelease() {
        var core = SchedulerCore()
        var granted: [UInt64] = []
        for id in 1...4 as ClosedRange<UInt64> {
            granted += core.enqueue(Waiter(id: id, batch: 1, priority: .interactive, limiter: "p/m"), concurrency: 2)
        }
        #expect(granted == [1, 2])
        let r1 = core.release(limiter: "p/m")
        #expect(r1 == [3])
    }

    @Test func smallBatchGetsItsFairShareWhileAHugeOneIsQueued() {
        var core = SchedulerCore()
        // A huge batch fills the queue first...
        var granted = core.enqueue(Waiter(id: 1, batch: 1, priority: .interactive, limiter: "l"), concurrency: 1)
        for id in 2...1000 as ClosedRange<UInt64> {
            granted += core.enqueue(Waiter(id: id, batch: 1, priority: .interactive, limiter: "l"), concurrency: 1)
        }
        // ...then a 3-item batch arrives.
        for id in 5001...5003 as ClosedRange<UInt64> {
            granted += core.enqueue(Waiter(id: id, batch: 2, priority: .interactive, limiter: "l"), concurrency: 1)
        }
        #expect(granted == [1])
        var order: [UInt64] = []
        for _ in 0..<6 { order += core.release(limiter: "l") }
        // Round-robin: the small batch is served every other slot, not after 999 items.
        #expect(order == [2, 5001, 3, 5002, 4, 5003])
    }

    @Test func interactiveIsServedBeforeBackground() {
        var core = SchedulerCore()
        _ = core.enqueue(Waiter(id: 1, batch: 1, priority: .background, limiter: "l"), concurrency: 1)
        _ = core.enqueue(Waiter(id: 2, batch: 1, priority: .background, limiter: "l"), concurrency: 1)
        _ = core.enqueue(Waiter(id: 3, batch: 2, priority: .interactive, limiter: "l"), concurrency: 1)
        let r2 = core.release(limiter: "l")
        #expect(r2 == [3])
        let r3 = core.release(limiter: "l")
        #expect(r3 == [2])
    }

    @Test func cancelledWaiterIsSkippedAndLimitersAreIndependent() {
        var core = SchedulerCore()
        _ = core.enqueue(Waiter(id: 1, batch: 1, priority: .interactive, limiter: "a"), concurrency: 1)
        _ = core.enqueue(Waiter(id: 2, batch: 1, priority: .interactive, limiter: "a"), concurrency: 1)
        _ = core.enqueue(Waiter(id: 3, batch: 1, priority: .interactive, limiter: "a"), concurrency: 1)
        let other = core.enqueue(Waiter(id: 4, batch: 1, priority: .interactive, limiter: "b"), concurrency: 1)
        #expect(other == [4])
        let r4 = core.cancel(2)
        #expect(r4)
        let r5 = core.cancel(1)
        #expect(!r5)  // Already granted.
        let r6 = core.release(limiter: "a")
        #expect(r6 == [3])
        let snapshot = core.snapshot()
        #expect(snapshot["a"]?.inFlight == 1 && snapshot["a"]?.queued == 0)
    }
}
