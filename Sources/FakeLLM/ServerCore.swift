import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// The state every connection of one server shares: configuration, counters, limiter, random
/// generator and stats waiters, behind one lock.
///
/// Event-loop threads call into it once or twice per request; each call holds the lock for a
/// few field updates. Waiter predicates run outside the lock.
final class ServerCore: Sendable {
    let configuration: FakeLLMConfiguration
    private let startUptimeNanoseconds: UInt64
    private let state: NIOLockedValueBox<State>

    private struct State {
        var stats = FakeLLMStats()
        var limiter: RateLimiter
        var generator: SeededGenerator
        var nextConnectionID = 1
        var sequence: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiterID: UInt64 = 0
    }

    private struct Waiter {
        var predicate: @Sendable (FakeLLMStats) -> Bool
        var continuation: CheckedContinuation<FakeLLMStats, any Error>
    }

    init(configuration: FakeLLMConfiguration) {
        self.configuration = configuration
        self.startUptimeNanoseconds = NIODeadline.now().uptimeNanoseconds
        let limiter = RateLimiter(
            requestsPerMinute: configuration.requestsPerMinute, tokensPerMinute: configuration.tokensPerMinute,
            burstSeconds: configuration.burstSeconds, requestBurst: configuration.requestBurst, now: 0)
        self.state = NIOLockedValueBox(State(limiter: limiter, generator: SeededGenerator(seed: configuration.seed)))
    }

    // MARK: Clock and identifiers

    /// Seconds since the server started (monotonic).
    func now() -> Double {
        Double(NIODeadline.now().uptimeNanoseconds &- startUptimeNanoseconds) / 1e9
    }

    /// Wall-clock Unix time in seconds.
    func unixTime() -> Double {
        Date().timeIntervalSince1970
    }

    /// A fresh 64-bit value for response ids, derived from the seed and a counter so ids differ
    /// per request and repeat across runs.
    func nextIdentifier() -> UInt64 {
        let sequence = state.withLockedValue { s -> UInt64 in
            s.sequence &+= 1
            return s.sequence
        }
        var generator = SeededGenerator(seed: configuration.seed ^ (sequence &* 0xD6E8_FEB8_6659_FD93))
        return generator.next()
    }

    // MARK: Randomness and limits

    /// A latency sample in milliseconds from the configured distribution.
    func sampleLatencyMilliseconds() -> Double {
        if case .fixed(let milliseconds) = configuration.latency {
            return milliseconds.isFinite ? min(max(0, milliseconds), FakeScript.maxDelayMilliseconds) : 0
        }
        return state.withLockedValue { s in configuration.latency.sampleMilliseconds(using: &s.generator) }
    }

    /// True with probability `rate` (seeded draw; no draw is made for 0 or 1).
    func draw(probability rate: Double) -> Bool {
        if rate <= 0 { return false }
        if rate >= 1 { return true }
        return state.withLockedValue { s in s.generator.nextUnit() < rate }
    }

    var hasLimits: Bool {
        configuration.requestsPerMinute != nil || configuration.tokensPerMinute != nil
    }

    /// Charges one request of `tokenCost` tokens against the limits, or says why not.
    func admit(tokenCost: Int) -> RateLimiter.Decision {
        let now = now()
        return state.withLockedValue { s in s.limiter.admit(tokenCost: tokenCost, now: now) }
    }

    /// The limits' state now, and how long until a request of `tokenCost` would fit.
    func limiterState(tokenCost: Int) -> (snapshot: RateLimiter.Snapshot, secondsUntilAdmissible: Double) {
        let now = now()
        return state.withLockedValue { s in
            let wait = s.limiter.secondsUntilAdmissible(tokenCost: tokenCost, now: now)
            return (s.limiter.snapshot(now: now), wait)
        }
    }

    /// What `admitModelRequest` decided.
    enum InFlightDecision: Sendable, Equatable {
        /// The request holds one in-flight slot until `requestFinished(_:completed:releasingSlot: true)`.
        case admitted
        /// `limit` model requests are already in flight; nothing is held.
        case refused(limit: Int)
    }

    /// Lets one model request in, holding a slot while it is in flight, or refuses it when
    /// `maxInFlight` are already in flight. Always counts the admitted ones (the peak is kept
    /// with or without a cap).
    func admitModelRequest() -> InFlightDecision {
        let cap = configuration.maxInFlight.map { max(0, $0) }
        return mutate { s in
            if let cap, s.stats.inFlightAdmitted >= cap {
                s.stats.inFlightRefused += 1
                return .refused(limit: cap)
            }
            s.stats.inFlightAdmitted += 1
            s.stats.peakInFlightAdmitted = max(s.stats.peakInFlightAdmitted, s.stats.inFlightAdmitted)
            return .admitted
        }
    }

    // MARK: Counters

    /// Counts an accepted connection and returns its 1-based id.
    func connectionOpened() -> Int {
        mutate { s in
            let id = s.nextConnectionID
            s.nextConnectionID += 1
            s.stats.connectionsAccepted += 1
            s.stats.connectionsOpen += 1
            s.stats.peakConnections = max(s.stats.peakConnections, s.stats.connectionsOpen)
            return id
        }
    }

    func connectionClosed() {
        mutate { s in s.stats.connectionsOpen = max(0, s.stats.connectionsOpen - 1) }
    }

    /// Counts a complete request read and now in flight.
    func requestStarted() {
        mutate { s in
            s.stats.requests += 1
            s.stats.inFlight += 1
            s.stats.peakInFlight = max(s.stats.peakInFlight, s.stats.inFlight)
        }
    }

    /// Counts a response head sent; `replyTokens` are the usage of a model reply, if it is one.
    func headSent(status: Int, replyTokens: (input: Int, output: Int)?) {
        mutate { s in
            s.stats.statusCounts[status, default: 0] += 1
            if status == 429 { s.stats.rateLimited += 1 }
            if let replyTokens {
                s.stats.inputTokens += replyTokens.input
                s.stats.outputTokens += replyTokens.output
            }
        }
    }

    /// Ends a request started with `requestStarted`: its response completed, was aborted by the
    /// server, or its client went away (`record.clientDisconnected`). `releasingSlot` gives back
    /// the slot `admitModelRequest` handed it.
    func requestFinished(_ record: FakeRequestRecord, completed: Bool, releasingSlot: Bool = false) {
        let keep = configuration.recordRequests
        mutate { s in
            s.stats.inFlight = max(0, s.stats.inFlight - 1)
            if releasingSlot { s.stats.inFlightAdmitted = max(0, s.stats.inFlightAdmitted - 1) }
            if completed { s.stats.responsesCompleted += 1 }
            if record.clientDisconnected { s.stats.clientDisconnectsBeforeResponseEnd += 1 }
            if keep { s.stats.records.append(record) }
        }
    }

    // MARK: Reading and resetting

    func stats() -> FakeLLMStats {
        state.withLockedValue { $0.stats }
    }

    /// Zeroes the counters and records; the gauges (open connections, in flight, admitted in
    /// flight) keep their current values and the peaks restart from them.
    func resetStats() {
        mutate { s in
            var fresh = FakeLLMStats()
            fresh.connectionsOpen = s.stats.connectionsOpen
            fresh.peakConnections = s.stats.connectionsOpen
            fresh.inFlight = s.stats.inFlight
            fresh.peakInFlight = s.stats.inFlight
            fresh.inFlightAdmitted = s.stats.inFlightAdmitted
            fresh.peakInFlightAdmitted = s.stats.inFlightAdmitted
            s.stats = fresh
        }
    }

    /// Suspends until `predicate` holds for the stats, returning the stats that satisfied it.
    func waitForStats(
        timeoutSeconds: Double, _ predicate: @escaping @Sendable (FakeLLMStats) -> Bool
    ) async throws -> FakeLLMStats {
        let id = state.withLockedValue { s -> UInt64 in
            s.nextWaiterID += 1
            return s.nextWaiterID
        }
        let timeout = Task {
            let seconds = timeoutSeconds.isFinite ? min(max(0, timeoutSeconds), 1e9) : 1e9
            try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            self.failWaiter(id, with: FakeLLMError.statsWaitTimedOut(self.stats()))
        }
        defer { timeout.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let current = state.withLockedValue { s -> FakeLLMStats? in
                    if Task.isCancelled { return nil }
                    s.waiters[id] = Waiter(predicate: predicate, continuation: continuation)
                    return s.stats
                }
                guard let current else {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                // Changes made before the waiter was registered are in `current`.
                notify([(id, predicate)], with: current)
            }
        } onCancel: {
            self.failWaiter(id, with: CancellationError())
        }
    }

    private func failWaiter(_ id: UInt64, with error: any Error) {
        let waiter = state.withLockedValue { s in s.waiters.removeValue(forKey: id) }
        waiter?.continuation.resume(throwing: error)
    }

    /// Runs `body` under the lock, then resumes the waiters whose predicate now holds.
    @discardableResult
    private func mutate<Result>(_ body: (inout State) -> Result) -> Result {
        let (result, pending) = state.withLockedValue { s -> (Result, (FakeLLMStats, [(UInt64, @Sendable (FakeLLMStats) -> Bool)])?) in
            let result = body(&s)
            guard !s.waiters.isEmpty else { return (result, nil) }
            return (result, (s.stats, s.waiters.map { ($0.key, $0.value.predicate) }))
        }
        if let (snapshot, waiters) = pending { notify(waiters, with: snapshot) }
        return result
    }

    private func notify(_ waiters: [(UInt64, @Sendable (FakeLLMStats) -> Bool)], with snapshot: FakeLLMStats) {
        for (id, predicate) in waiters where predicate(snapshot) {
            let waiter = state.withLockedValue { s in s.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(returning: snapshot)
        }
    }
}
