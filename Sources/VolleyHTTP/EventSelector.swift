import CVolleyLinux
import VolleySystem

/// The transport thread's event selector: an epoll set for the sockets libcurl asks about,
/// with an eventfd in it that other threads write to wake the thread. Linux only (epoll,
/// eventfd); the C calls are in `CVolleyLinux`.
///
/// Two descriptors, so a plain `Sendable` value: it is made in `HTTPClient.init` and handed to
/// the transport thread, which alone registers, waits and finally closes (`close()`). Other
/// threads only wake it, through `waker`.
struct EventSelector: Sendable {
    /// What a descriptor is watched for, or what a wait saw on it.
    struct Interest: OptionSet, Sendable {
        let rawValue: UInt32
        static let readable = Interest(rawValue: VOLLEY_EPOLLIN)
        static let writable = Interest(rawValue: VOLLEY_EPOLLOUT)
    }

    /// Wakes the selector's thread from any thread (the only part other threads use).
    struct Waker: Sendable {
        fileprivate let fd: Int32

        /// Makes the thread's current or next `wait` return. Wakeups are counted, never lost.
        func wake() {
            volley_eventfd_signal(fd)
        }
    }

    /// What one wait saw: storage the loop makes once and reuses for every wait, so waiting
    /// allocates nothing.
    struct ReadyEvents {
        fileprivate var fds: [Int32]
        fileprivate var bits: [UInt32]
        /// How many entries the last wait filled.
        fileprivate(set) var count = 0

        init() {
            let capacity = Int(VOLLEY_EPOLL_MAX_EVENTS)
            fds = [Int32](repeating: 0, count: capacity)
            bits = [UInt32](repeating: 0, count: capacity)
        }

        /// The descriptor of entry `index` (below `count`).
        func fd(at index: Int) -> Int32 { fds[index] }

        /// What entry `index` is ready for. A hang-up counts as readable and an error as both,
        /// so the reader finds the cause by reading or writing (as it would after poll).
        func interest(at index: Int) -> Interest {
            let events = bits[index]
            var interest: Interest = []
            if events & (VOLLEY_EPOLLIN | VOLLEY_EPOLLHUP | VOLLEY_EPOLLERR) != 0 { interest.insert(.readable) }
            if events & (VOLLEY_EPOLLOUT | VOLLEY_EPOLLERR) != 0 { interest.insert(.writable) }
            return interest
        }
    }

    private let epollFD: Int32
    private let wakeFD: Int32

    /// Makes the epoll set and the eventfd, and watches the eventfd.
    /// - Throws: `HTTPClientError(.other)` when either cannot be made.
    init() throws(HTTPClientError) {
        let epollFD = volley_epoll_create()
        let wakeFD = volley_eventfd_create()
        guard epollFD >= 0, wakeFD >= 0 else {
            if epollFD >= 0 { posixClose(epollFD) }
            if wakeFD >= 0 { posixClose(wakeFD) }
            throw HTTPClientError(.other, "could not create the transport's epoll or eventfd descriptor")
        }
        let error = volley_epoll_add(epollFD, wakeFD, VOLLEY_EPOLLIN)
        guard error == 0 else {
            posixClose(epollFD)
            posixClose(wakeFD)
            throw HTTPClientError(.other, "epoll_ctl for the wakeup descriptor failed (errno \(error))")
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
    }

    /// What other threads use to wake this selector's thread.
    var waker: Waker { Waker(fd: wakeFD) }

    /// Starts watching `fd` (or changes what it is watched for, if it is already watched).
    func register(_ fd: Int32, for interest: Interest) {
        // Fails only for a descriptor that is not open; libcurl then finds it broken itself.
        _ = volley_epoll_add(epollFD, fd, interest.rawValue)
    }

    /// Changes what `fd` is watched for (or starts watching it: its number may have been
    /// closed and reused without the caller knowing).
    func modify(_ fd: Int32, for interest: Interest) {
        _ = volley_epoll_modify(epollFD, fd, interest.rawValue)
    }

    /// Stops watching `fd`. A descriptor already closed has left the set by itself: fine.
    func unregister(_ fd: Int32) {
        _ = volley_epoll_remove(epollFD, fd)
    }

    /// Waits up to `timeoutMilliseconds` (-1: until an event or a wakeup; 0: just polls) and
    /// fills `ready`. The wakeup descriptor may be among them: see `isWakeup`. Returns false
    /// only when the epoll descriptor is broken (an interrupted wait is an empty one).
    func wait(into ready: inout ReadyEvents, timeoutMilliseconds: Int32) -> Bool {
        let count = ready.fds.withUnsafeMutableBufferPointer { fds in
            ready.bits.withUnsafeMutableBufferPointer { bits in
                volley_epoll_wait(epollFD, fds.baseAddress, bits.baseAddress, Int32(fds.count), timeoutMilliseconds)
            }
        }
        ready.count = max(0, Int(count))
        return count >= 0
    }

    /// Whether `fd` (from a wait) is the wakeup descriptor rather than a socket.
    func isWakeup(_ fd: Int32) -> Bool { fd == wakeFD }

    /// Resets the wakeup descriptor after a wait returned it.
    func drainWakeup() {
        volley_eventfd_drain(wakeFD)
    }

    /// Closes both descriptors. Call once, when no thread can call `Waker.wake` any more.
    func close() {
        posixClose(wakeFD)
        posixClose(epollFD)
    }

    /// The monotonic clock that wait timeouts are computed on, in milliseconds.
    static func nowMilliseconds() -> Int64 {
        volley_monotonic_ms()
    }
}
