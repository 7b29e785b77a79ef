import Dispatch
import Testing
import VolleySystem

@Suite struct LockedTests {
    struct Refused: Error, Equatable { let value: Int }

    @Test func incrementsFromFourThreadsAreNeverLost() {
        let counter = Locked(0)
        // A read, a pause and a write: without the lock, threads would overwrite each other.
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<20_000 {
                counter.withLock { value in
                    let read = value
                    value = read &+ 1
                }
            }
        }
        #expect(counter.withLock { $0 } == 80_000)
    }

    @Test func anErrorThrownInsideLeavesTheLockFreeAndItsChangesKept() {
        let state = Locked([Int]())
        #expect(throws: Refused(value: 1)) {
            try state.withLock { (list: inout [Int]) throws(Refused) in
                list.append(1)
                throw Refused(value: 1)
            }
        }
        // Taking it again would deadlock were it still held.
        #expect(state.withLock { list in list.append(2); return list } == [1, 2])
    }
}
