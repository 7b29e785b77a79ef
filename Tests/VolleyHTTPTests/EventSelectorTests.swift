import CCurl
import Glibc
import Testing
@testable import VolleyHTTP

/// `EventSelector` and `SocketTable` on pipes: registration, wakeups, and parked descriptors,
/// without libcurl or a network.
struct EventSelectorTests {
    /// A pipe whose read end has one byte waiting (so it stays readable: epoll is
    /// level-triggered), closed at the end of `body`.
    private func withReadablePipe(_ body: (_ readEnd: Int32) throws -> Void) throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        var byte: UInt8 = 1
        try #require(write(fds[1], &byte, 1) == 1)
        try body(fds[0])
    }

    /// The descriptors the next wait (no waiting) reports, with what each is ready for.
    private func poll(_ selector: EventSelector) -> [Int32: EventSelector.Interest] {
        var ready = EventSelector.ReadyEvents()
        guard selector.wait(into: &ready, timeoutMilliseconds: 0) else { return [:] }
        var seen: [Int32: EventSelector.Interest] = [:]
        for index in 0..<ready.count { seen[ready.fd(at: index)] = ready.interest(at: index) }
        return seen
    }

    @Test func aWakeupIsSeenOnceAndDrained() throws {
        let selector = try EventSelector()
        defer { selector.close() }
        #expect(poll(selector).isEmpty)
        // Counted, not lost: two wakeups before a wait are one ready wakeup descriptor.
        selector.waker.wake()
        selector.waker.wake()
        let seen = poll(selector)
        #expect(seen.count == 1)
        #expect(seen.keys.allSatisfy(selector.isWakeup))
        selector.drainWakeup()
        #expect(poll(selector).isEmpty)
    }

    @Test func aRegisteredDescriptorIsReportedUntilUnregistered() throws {
        let selector = try EventSelector()
        defer { selector.close() }
        try withReadablePipe { fd in
            selector.register(fd, for: .readable)
            #expect(poll(selector) == [fd: .readable])
            // Registering again changes it rather than failing.
            selector.register(fd, for: [.readable, .writable])
            #expect(poll(selector) == [fd: .readable])
            selector.unregister(fd)
            #expect(poll(selector).isEmpty)
            // Modifying a descriptor that is not in the set adds it.
            selector.modify(fd, for: .readable)
            #expect(poll(selector) == [fd: .readable])
        }
    }

    @Test func socketTableFollowsWhatLibcurlWants() throws {
        let selector = try EventSelector()
        defer { selector.close() }
        var table = SocketTable(selector: selector)
        try withReadablePipe { fd in
            table.watch(fd, CURL_POLL_IN)
            #expect(poll(selector) == [fd: .readable])
            let parked = table.unparkIfParked(fd)
            #expect(!parked)
            // Not opened through our callback: a REMOVE leaves the set at once.
            table.watch(fd, CURL_POLL_REMOVE)
            #expect(poll(selector).isEmpty)
        }
    }

    @Test func anIdleOwnedSocketIsParkedAndLeavesOnItsFirstEvent() throws {
        let selector = try EventSelector()
        defer { selector.close() }
        var table = SocketTable(selector: selector)
        try withReadablePipe { fd in
            table.opened(fd)
            table.watch(fd, CURL_POLL_IN)
            table.watch(fd, CURL_POLL_REMOVE)
            // Parked: still in the set (no epoll_ctl for an idle pooled connection)...
            #expect(poll(selector) == [fd: .readable])
            // ...until an event on it, which is not libcurl's and removes it.
            let wasParked = table.unparkIfParked(fd)
            #expect(wasParked)
            #expect(poll(selector).isEmpty)
            let stillParked = table.unparkIfParked(fd)
            #expect(!stillParked)
            // Watched again, it is registered afresh.
            table.watch(fd, CURL_POLL_IN)
            #expect(poll(selector) == [fd: .readable])
            table.closing(fd)
        }
    }
}
