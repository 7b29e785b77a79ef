import DequeModule

/// Per-origin admission for the transport: decides when a transfer may be handed to libcurl.
///
/// libcurl queues transfers internally when a host's connection limit is reached, and counts
/// that wait in the transfer's timeout. This gate keeps the queue in Swift instead, so a
/// transfer given to libcurl always has a connection (or an HTTP/2 stream) to run on.
///
/// Capacity per origin: HTTP/1.x runs one transfer per connection, so `maxConnectionsPerHost`
/// transfers; a known HTTP/2 origin multiplexes `maxConcurrentStreams` per connection.
/// Pure value type, driven by the transport loop; no I/O.
struct OriginGate {
    enum WireProtocol: Equatable {
        /// Plain `http://`: always HTTP/1.1 (no h2c prior knowledge, it breaks on reuse in 7.88).
        case http1
        /// Seen to speak HTTP/2: multiplexed; transfers use `CURLOPT_PIPEWAIT`.
        case http2
        /// `https://` before any response told us what ALPN chose.
        case unknownTLS
    }

    /// A transfer allowed to start, and whether it should wait to multiplex on an
    /// existing connection rather than open a new one.
    struct Admission: Equatable {
        var id: UInt64
        var pipeWait: Bool
    }

    private struct Origin {
        var proto: WireProtocol
        var active = 0
        /// Ids in arrival order; cancelled ones stay until they reach the front.
        var queue = Deque<UInt64>()
    }

    let maxConnectionsPerHost: Int
    let maxConcurrentStreams: Int
    private var origins: [String: Origin] = [:]
    /// Ids waiting in some origin's queue, and the origin they wait on.
    private var waiting: [UInt64: String] = [:]
    /// Origins that may have room now.
    private var dirty: Set<String> = []

    init(maxConnectionsPerHost: Int, maxConcurrentStreams: Int) {
        self.maxConnectionsPerHost = max(1, maxConnectionsPerHost)
        self.maxConcurrentStreams = max(1, maxConcurrentStreams)
    }

    /// Queues transfer `id` for `origin`.
    mutating func enqueue(id: UInt64, origin: String, isTLS: Bool) {
        // Origins are changed in place (`origins.values[index]`): one copied out of the
        // dictionary and written back would copy its queue every time.
        if let index = origins.index(forKey: origin) {
            origins.values[index].queue.append(id)
        } else {
            var created = Origin(proto: isTLS ? .unknownTLS : .http1)
            created.queue.append(id)
            origins[origin] = created
        }
        waiting[id] = origin
        dirty.insert(origin)
    }

    /// Drops a queued transfer. Returns false when `id` was not waiting (already admitted).
    mutating func cancelWaiting(id: UInt64) -> Bool {
        guard let origin = waiting.removeValue(forKey: id) else { return false }
        // Lazy removal: the id stays in the origin's queue and is skipped when reached.
        dirty.insert(origin)
        return true
    }

    /// A transfer admitted earlier for `origin` has ended.
    mutating func finished(origin: String) {
        guard let index = origins.index(forKey: origin) else { return }
        origins.values[index].active -= 1
        dirty.insert(origin)
    }

    /// A response on `origin` told us its protocol.
    mutating func learned(origin: String, isHTTP2: Bool) {
        guard let current = origins[origin]?.proto, current == .unknownTLS || (current == .http2) != isHTTP2 else {
            return
        }
        // An https origin that answered HTTP/1.x stays HTTP/1.x; one that answered HTTP/2 is
        // multiplexed from now on.
        origins[origin]?.proto = isHTTP2 ? .http2 : .http1
        dirty.insert(origin)
    }

    func capacity(of proto: WireProtocol) -> Int {
        switch proto {
        case .http1: return maxConnectionsPerHost
        case .http2: return maxConnectionsPerHost * maxConcurrentStreams
        // Until a response tells us the protocol, admit only what HTTP/1.1 could run, so
        // libcurl never queues. These transfers use PIPEWAIT: over TLS, libcurl learns from
        // ALPN during the handshake whether to multiplex them on the first connection (h2)
        // or open one connection each (HTTP/1.1), so the wait is one handshake, not a request.
        case .unknownTLS: return maxConnectionsPerHost
        }
    }

    /// Transfers that may start now, in arrival order per origin; at most `limit` (origins
    /// with more stay ready for the next call: see `hasReady`).
    mutating func admit(limit: Int = .max) -> [Admission] {
        guard !dirty.isEmpty else { return [] }
        var admitted: [Admission] = []
        var stillDirty: [String] = []
        for name in dirty {
            guard let index = origins.index(forKey: name) else { continue }
            let proto = origins.values[index].proto
            let capacity = capacity(of: proto)
            while origins.values[index].active < capacity, !origins.values[index].queue.isEmpty {
                if admitted.count >= limit {
                    stillDirty.append(name)
                    break
                }
                guard let id = origins.values[index].queue.popFirst() else { break }
                guard waiting.removeValue(forKey: id) != nil else { continue }  // cancelled
                origins.values[index].active += 1
                admitted.append(Admission(id: id, pipeWait: proto != .http1))
            }
        }
        dirty.removeAll(keepingCapacity: true)
        for name in stillDirty { dirty.insert(name) }
        return admitted
    }

    /// Whether some origin may have a transfer to admit.
    var hasReady: Bool { !dirty.isEmpty }

    /// Transfers running or waiting for `origin` (for tests and stats).
    func load(of origin: String) -> (active: Int, waiting: Int) {
        guard let o = origins[origin] else { return (0, 0) }
        return (o.active, o.queue.filter { waiting[$0] != nil }.count)
    }

    func proto(of origin: String) -> WireProtocol? { origins[origin]?.proto }
}
