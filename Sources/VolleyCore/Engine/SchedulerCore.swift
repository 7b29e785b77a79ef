/// Admission of attempts to providers: a concurrency permit per limiter, priority classes,
/// and round-robin between the batches of one class so a huge batch never starves a small
/// one. Pure value type: the caller applies the grants it returns.
struct SchedulerCore {
    struct Waiter {
        var id: UInt64
        var batch: UInt64
        var priority: Priority
        var limiter: String
    }

    /// Batches of one priority waiting on one limiter, served in rotation.
    private struct Lane {
        var order: [UInt64] = []
        var cursor = 0
        var queues: [UInt64: Queue<UInt64>] = [:]

        var isEmpty: Bool { order.isEmpty }

        mutating func push(_ id: UInt64, batch: UInt64) {
            if queues[batch] == nil {
                queues[batch] = Queue()
                order.append(batch)
            }
            queues[batch]?.push(id)
        }

        /// The next waiter in rotation, skipping ids `isLive` rejects (cancelled).
        mutating func pop(isLive: (UInt64) -> Bool) -> UInt64? {
            while !order.isEmpty {
                if cursor >= order.count { cursor = 0 }
                let batch = order[cursor]
                var queue = queues[batch] ?? Queue()
                var found: UInt64?
                while let id = queue.pop() {
                    if isLive(id) {
                        found = id
                        break
                    }
                }
                if queue.isEmpty {
                    queues[batch] = nil
                    order.remove(at: cursor)
                } else {
                    queues[batch] = queue
                    cursor += 1
                }
                if let found { return found }
            }
            return nil
        }
    }

    private struct Limiter {
        var concurrency: Int
        var inFlight = 0
        var lanes: [Priority: Lane] = [:]
    }

    private var limiters: [String: Limiter] = [:]
    private var waiters: [UInt64: Waiter] = [:]

    /// Sets (or changes) a limiter's concurrency. Returns waiters that may now run.
    mutating func configure(limiter: String, concurrency: Int) -> [UInt64] {
        limiters[limiter, default: Limiter(concurrency: concurrency)].concurrency = max(1, concurrency)
        return grant(limiter)
    }

    /// Adds a waiter; returns the waiters granted as a result (possibly this one).
    mutating func enqueue(_ waiter: Waiter, concurrency: Int) -> [UInt64] {
        if limiters[waiter.limiter] == nil {
            limiters[waiter.limiter] = Limiter(concurrency: max(1, concurrency))
        }
        waiters[waiter.id] = waiter
        limiters[waiter.limiter]?.lanes[waiter.priority, default: Lane()].push(waiter.id, batch: waiter.batch)
        return grant(waiter.limiter)
    }

    /// Removes a waiter that has not been granted. False when it was not waiting.
    mutating func cancel(_ id: UInt64) -> Bool {
        waiters.removeValue(forKey: id) != nil  // Lazily skipped in its lane.
    }

    /// A granted attempt ended; returns the waiters that may run now.
    mutating func release(limiter: String) -> [UInt64] {
        guard limiters[limiter] != nil else { return [] }
        limiters[limiter]?.inFlight -= 1
        return grant(limiter)
    }

    private mutating func grant(_ name: String) -> [UInt64] {
        guard var limiter = limiters[name] else { return [] }
        var granted: [UInt64] = []
        outer: while limiter.inFlight < limiter.concurrency {
            for priority in Priority.allCases {
                guard var lane = limiter.lanes[priority], !lane.isEmpty else { continue }
                let next = lane.pop { waiters[$0] != nil }
                limiter.lanes[priority] = lane.isEmpty ? nil : lane
                if let id = next {
                    waiters[id] = nil
                    limiter.inFlight += 1
                    granted.append(id)
                    continue outer
                }
            }
            break
        }
        limiters[name] = limiter
        return granted
    }

    /// In flight and waiting per limiter (for `stats`).
    func snapshot() -> [String: (inFlight: Int, queued: Int, concurrency: Int)] {
        var queued: [String: Int] = [:]
        for waiter in waiters.values { queued[waiter.limiter, default: 0] += 1 }
        return limiters.mapValues { _ in (0, 0, 0) }.reduce(into: [:]) { result, entry in
            let limiter = limiters[entry.key]
            result[entry.key] = (limiter?.inFlight ?? 0, queued[entry.key] ?? 0, limiter?.concurrency ?? 0)
        }
    }
}

/// A FIFO queue with amortised O(1) push and pop.
struct Queue<Element> {
    private var storage: [Element] = []
    private var head = 0

    var isEmpty: Bool { head >= storage.count }
    var count: Int { storage.count - head }

    mutating func push(_ element: Element) {
        storage.append(element)
    }

    mutating func pop() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        head += 1
        if head > 64, head * 2 > storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }
}
