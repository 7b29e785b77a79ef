import DequeModule

extension SchedulerCore {
    /// Waiters of one priority on one limiter: the host connections in rotation, and within
    /// a connection its batches in rotation, so a host with a huge batch (or many batches)
    /// never starves another host's small one. A paused connection (its host stopped reading)
    /// is passed over without losing its waiters.
    struct Lane {
        var order: [UInt64] = []
        var cursor = 0
        var connections: [UInt64: BatchRing] = [:]

        var isEmpty: Bool { order.isEmpty }

        mutating func push(_ id: UInt64, batch: UInt64, connection: UInt64) {
            if connections[connection] == nil {
                connections[connection] = BatchRing()
                order.append(connection)
            }
            connections[connection]?.push(id, batch: batch)
        }

        /// The waiter whose turn it is, dropping cancelled ones and emptied connections on the
        /// way; nil when every connection left is paused (or none is left).
        mutating func peek(isLive: (UInt64) -> Bool, isPaused: (UInt64) -> Bool) -> UInt64? {
            var passed = 0
            while passed < order.count {
                if cursor >= order.count { cursor = 0 }
                let connection = order[cursor]
                if isPaused(connection) {
                    cursor += 1
                    passed += 1
                    continue
                }
                // In place (`connections[connection]?`): see `BatchRing.peek`.
                if let head = connections[connection]?.peek(isLive: isLive) { return head }
                connections[connection] = nil
                order.remove(at: cursor)
            }
            return nil
        }

        /// Takes the waiter `peek` returned and moves the turn to the next connection.
        mutating func commit() {
            guard !order.isEmpty else { return }
            if cursor >= order.count { cursor = 0 }
            let connection = order[cursor]
            connections[connection]?.commit()
            if connections[connection]?.isEmpty ?? true {
                connections[connection] = nil
                order.remove(at: cursor)
            } else {
                cursor += 1
            }
        }
    }

    /// One connection's batches waiting on one limiter, served in rotation.
    struct BatchRing {
        var order: [UInt64] = []
        var cursor = 0
        var queues: [UInt64: Deque<UInt64>] = [:]

        var isEmpty: Bool { order.isEmpty }

        mutating func push(_ id: UInt64, batch: UInt64) {
            if queues[batch] == nil {
                queues[batch] = Deque()
                order.append(batch)
            }
            queues[batch]?.append(id)
        }

        /// The waiter whose turn it is, dropping cancelled ones on the way.
        mutating func peek(isLive: (UInt64) -> Bool) -> UInt64? {
            while !order.isEmpty {
                if cursor >= order.count { cursor = 0 }
                let batch = order[cursor]
                // In place (`queues[batch]?`): a copy taken out of the dictionary would share
                // its storage, and the first pop would copy the whole queue.
                while let head = queues[batch]?.first, !isLive(head) { _ = queues[batch]?.popFirst() }
                if let head = queues[batch]?.first { return head }
                queues[batch] = nil
                order.remove(at: cursor)
            }
            return nil
        }

        /// Takes the waiter `peek` returned and moves the turn to the next batch.
        mutating func commit() {
            guard !order.isEmpty else { return }
            if cursor >= order.count { cursor = 0 }
            let batch = order[cursor]
            _ = queues[batch]?.popFirst()
            if queues[batch]?.isEmpty ?? true {
                queues[batch] = nil
                order.remove(at: cursor)
            } else {
                cursor += 1
            }
        }
    }

    /// One limiter (one `LimiterIdentity`: API origin, key, model): its permit count, its
    /// lanes of waiters, its rate and token buckets and its adaptive controller.
    struct Limiter {
        var settings: LimiterSettings
        var inFlight = 0
        var lanes: [Priority: Lane] = [:]
        var requests: RequestRate?
        var tokens: TokenBuckets
        var control: AdaptiveLimit

        init(settings: LimiterSettings, now: Double) {
            self.settings = settings
            control = AdaptiveLimit(concurrency: settings.concurrency, rpm: settings.rpm, burst: settings.burst,
                                    slowStart: settings.slowStart, adapts: settings.adaptive)
            tokens = TokenBuckets(settings, now: now)
            syncRate(now: now)
        }

        /// Whether an attempt reserving `tokens` may start now (permit, cooldown, time).
        func canStart(_ tokens: TokenCount, now: Double) -> Bool {
            control.hasRoom(inFlight: inFlight, now: now) && now >= control.cooldownUntil && isDue(tokens, now: now)
        }

        /// Whether the rate buckets allow an attempt reserving `tokens` now. A nanosecond of
        /// slack absorbs floating-point error in the bucket arithmetic.
        func isDue(_ tokens: TokenCount, now: Double) -> Bool {
            if let requests, requests.earliest(now: now) > now + 1e-9 { return false }
            return self.tokens.earliest(tokens, now: now) <= now + 1e-9
        }

        /// Books a started attempt.
        mutating func start(_ tokens: TokenCount, now: Double) -> Ticket {
            requests?.take(now: now)
            self.tokens.take(tokens, now: now)
            inFlight += 1
            control.started(now: now)
            return Ticket(startedAt: now, inFlight: inFlight)
        }

        /// Makes the buckets follow the controller's rate, burst and token scale.
        mutating func syncRate(now: Double) {
            if !tokens.isEmpty { tokens.setScale(control.tokenScale, now: now) }
            guard let rate = control.rate else {
                requests = nil
                return
            }
            if requests == nil {
                requests = RequestRate(perSecond: rate, burst: control.burst, now: now)
            } else if requests?.perSecond != rate || requests?.burst != control.burst {
                requests?.set(perSecond: rate, burst: control.burst)
            }
        }

        mutating func update(_ new: LimiterSettings, now: Double) {
            guard new != settings else { return }
            let old = settings
            settings = new
            if new.concurrency != old.concurrency || new.rpm != old.rpm || new.burst != old.burst
                || new.adaptive != old.adaptive || new.slowStart != old.slowStart {
                control = AdaptiveLimit(concurrency: new.concurrency, rpm: new.rpm, burst: new.burst,
                                        slowStart: new.slowStart, adapts: new.adaptive)
                requests = nil
                syncRate(now: now)
            }
            tokens.update(from: old, to: new, now: now)
        }
    }
}
