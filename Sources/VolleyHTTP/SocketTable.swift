import CCurl

/// What the transport loop knows of each descriptor libcurl uses, and keeping the selector's
/// registrations in step with what libcurl wants (its socket callback). Transport thread only.
///
/// Idle pooled connections are parked rather than removed from the epoll set (see
/// `SocketState.parked`), which keeps a request on a reused connection free of `epoll_ctl`
/// calls, so small fast requests cost no more than they did with `curl_multi_poll`.
struct SocketTable {
    private struct SocketState {
        /// What the selector watches it for (empty: not registered).
        var interest: EventSelector.Interest = []
        /// Opened by libcurl through our open-socket callback and not yet closed through our
        /// close-socket callback: we know exactly when this descriptor dies.
        var owned = false
        /// libcurl stopped watching it (an idle pooled connection), but it stays in the epoll
        /// set: the next transfer on the connection usually wants the same events, and
        /// deleting and re-adding it cost two epoll_ctl calls per request. An event on a
        /// parked socket (the server closed the idle connection) removes it for real.
        var parked = false
    }

    private let selector: EventSelector
    /// Indexed by descriptor.
    private var sockets: [SocketState] = []

    init(selector: EventSelector) {
        self.selector = selector
    }

    /// libcurl wants `what` (CURL_POLL_IN / OUT / INOUT / REMOVE) on `fd`.
    mutating func watch(_ fd: Int32, _ what: Int32) {
        guard fd >= 0 else { return }
        let index = ensureSlot(fd)
        if what == CURL_POLL_REMOVE {
            if sockets[index].owned {
                sockets[index].parked = true
            } else {
                // Not ours (libcurl may close it without telling us): leave the set now.
                deregister(fd)
            }
            return
        }
        sockets[index].parked = false
        var wanted: EventSelector.Interest = []
        if what & CURL_POLL_IN != 0 { wanted.insert(.readable) }
        if what & CURL_POLL_OUT != 0 { wanted.insert(.writable) }
        let current = sockets[index].interest
        guard wanted != current else { return }
        if current.isEmpty {
            selector.register(fd, for: wanted)
        } else {
            selector.modify(fd, for: wanted)
        }
        sockets[index].interest = wanted
    }

    /// Called for every ready descriptor: when `fd` is parked (libcurl is not watching it,
    /// so the event is the server closing an idle connection), stops watching it too and
    /// returns true; the event is not libcurl's. Returns false for every other descriptor.
    mutating func unparkIfParked(_ fd: Int32) -> Bool {
        let index = Int(fd)
        guard index < sockets.count, sockets[index].parked else { return false }
        sockets[index].parked = false
        deregister(fd)
        return true
    }

    /// libcurl opened `fd` for a connection (open-socket callback).
    mutating func opened(_ fd: Int32) {
        guard fd >= 0 else { return }
        let index = ensureSlot(fd)
        sockets[index] = SocketState(interest: [], owned: true, parked: false)
    }

    /// libcurl closes `fd` (close-socket callback): closing removes it from the epoll set.
    mutating func closing(_ fd: Int32) {
        guard fd >= 0 else { return }
        let index = ensureSlot(fd)
        sockets[index] = SocketState()
    }

    private mutating func deregister(_ fd: Int32) {
        let index = Int(fd)
        guard index < sockets.count, !sockets[index].interest.isEmpty else { return }
        selector.unregister(fd)
        sockets[index].interest = []
    }

    private mutating func ensureSlot(_ fd: Int32) -> Int {
        let index = Int(fd)
        if index >= sockets.count {
            sockets += [SocketState](repeating: SocketState(), count: index + 1 - sockets.count)
        }
        return index
    }
}
