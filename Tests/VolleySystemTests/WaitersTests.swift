import Testing
import VolleySystem
import VolleyTestSupport

@Suite struct WaitersTests {
    final class Gate: Sendable {
        struct State {
            var open = false
            var value = 0
            var waiters = Waiters<Int>()
        }
        let state = Locked(State())

        func wait() async -> Int {
            await state.wait(until: { $0.open ? $0.value : nil }, park: { $0.waiters.append($1) })
        }

        var parked: Int { state.withLock { $0.waiters.count } }

        func open(with value: Int) {
            let ready = state.withLock { state in
                state.open = true
                state.value = value
                return state.waiters.takeAll()
            }
            ready.resume(returning: value)
        }
    }

    @Test func aConditionAlreadyTrueReturnsWithoutParking() async {
        let gate = Gate()
        gate.open(with: 7)
        #expect(await gate.wait() == 7)
        #expect(gate.parked == 0)
    }

    @Test func parkedWaitersAreAllResumedByTheChange() async {
        let gate = Gate()
        async let first = gate.wait()
        async let second = gate.wait()
        // Each waiter parks before the gate opens or sees it open: both end with the value.
        await waitUntil("both waiters parked") { gate.parked == 2 }
        gate.open(with: 3)
        #expect(await [first, second] == [3, 3])
        #expect(gate.parked == 0)
    }
}
