import Foundation
import VolleySystem

extension Process {
    /// `run()`, with this `Process` kept reachable until the test process exits. Every test
    /// that spawns a child starts it with this.
    ///
    /// swift-corelibs-foundation's `Process` is never freed once it has run: it stays in a
    /// reference cycle with what it holds (pipes, file handles, environment, arguments, URL,
    /// termination handler and what that captures; swiftlang/swift-corelibs-foundation#3260,
    /// open). Under `scripts/test --sanitize address` LeakSanitizer reported each spawned
    /// child's graph, 1,370 reports from one test process, every one of them inside it. Held
    /// from a global here, that memory is reachable and not reported, while a leak of anything
    /// a `Process` does not hold still is (a suppression by stack would have had to name every
    /// test that builds arguments). Only test processes use Foundation's `Process`; the
    /// sidecar never links Foundation.
    public func runKeepingReference() throws {
        // The object's address, held as an integer: LeakSanitizer scans memory conservatively,
        // so the word keeps the object reachable; the +1 retain keeps it alive.
        let address = UInt(bitPattern: Unmanaged.passRetained(self).toOpaque())
        spawnedProcesses.withLock { $0.append(address) }
        try run()
    }
}

/// Every `Process` a test ran (see `runKeepingReference`), for the life of the test process.
private let spawnedProcesses = Locked<[UInt]>([])
