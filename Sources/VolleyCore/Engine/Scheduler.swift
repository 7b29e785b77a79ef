import Synchronization

/// The async face of `SchedulerCore`: `acquire` waits for admission, `release` ends an
/// attempt. Time-based grants (RPM spacing, TPM refill, cooldowns) are driven by one timer
/// task that sleeps until the core's `nextWake`.
final class Scheduler: Sendable {
    enum AcquireError: Error {
        case cancelled
        case tooLarge(SchedulerCore.TooLarge)
    }

    /// A waiter's state. `queued` waits in the core without a continuation yet (the common
    /// case gets its permit at once and never needs one); `granted` got its permit before its
    /// continuation was registered.
    private enum Entry {
        case queued
        case waiting(CheckedContinuation<Void, any Error>)
        case granted
        case cancelled
    }

    private struct State {
        var core = SchedulerCore()
        var entries: [UInt64: Entry] = [:]
        var nextID: UInt64 = 1
        /// When the timer task will next poll, if one is scheduled.
        var wakeAt: Double?
        var timer: Task<Void, Never>?
    }

    private let state = Mutex(State())
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant

    init() {
        origin = clock.now
    }

    /// Seconds since this scheduler started (the core's time base).
    var now: Double {
        let (seconds, attoseconds) = (clock.now - origin).components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Waits until `limiter` admits one attempt of `batch` reserving `tokens`.
    /// - Throws: `.tooLarge` at once when it can never fit; `.cancelled` when the task is cancelled first.
    func acquire(limiter: String, settings: LimiterSettings, tokens: TokenCount, batch: UInt64, priority: Priority) async throws(AcquireError) {
        if Task.isCancelled { throw .cancelled }
        enum Admission {
            case granted
            case tooLarge(SchedulerCore.TooLarge)
            case queued(UInt64)
        }
        let now = self.now
        // Fast path: most attempts are admitted at once, with no continuation or task switch.
        let (admission, others) = state.withLock { state -> (Admission, [CheckedContinuation<Void, any Error>]) in
            let id = state.nextID
            state.nextID += 1
            let waiter = SchedulerCore.Waiter(id: id, batch: batch, priority: priority, limiter: limiter, tokens: tokens)
            switch state.core.admit(waiter, settings: settings, now: now) {
            case .failure(let tooLarge):
                return (.tooLarge(tooLarge), [])
            case .success(.startedAtOnce):
                // Nothing else changed, so no timer needs (re)scheduling.
                return (.granted, [])
            case .success(.queued(let ids)):
                let grantedNow = ids.contains(id)
                if !grantedNow { state.entries[id] = .queued }
                let others = Self.take(ids.filter { $0 != id }, from: &state)
                scheduleTimer(&state, now: now)
                return (grantedNow ? .granted : .queued(id), others)
            }
        }
        for waiter in others { waiter.resume() }
        let id: UInt64
        switch admission {
        case .granted: return
        case .tooLarge(let tooLarge): throw .tooLarge(tooLarge)
        case .queued(let queued): id = queued
        }
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let outcome = state.withLock { state -> Result<Void, AcquireError>? in
                        switch state.entries[id] {
                        case .queued?:
                            state.entries[id] = .waiting(continuation)
                            return nil
                        case .granted?:
                            state.entries[id] = nil
                            return .success(())
                        case .cancelled?, .waiting?, nil:
                            state.entries[id] = nil
                            return .failure(.cancelled)
                        }
                    }
                    switch outcome {
                    case nil: break
                    case .success?: continuation.resume()
                    case .failure(let error)?: continuation.resume(throwing: error)
                    }
                }
            } onCancel: {
                let continuation = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                    switch state.entries[id] {
                    case .queued?:
                        // Not yet waiting on a continuation: leave a note for it.
                        if state.core.cancel(id) { state.entries[id] = .cancelled }
                        return nil
                    case .waiting(let continuation)?:
                        guard state.core.cancel(id) else { return nil }
                        state.entries[id] = nil
                        return continuation
                    case .granted?, .cancelled?, nil:
                        return nil
                    }
                }
                continuation?.resume(throwing: AcquireError.cancelled)
            }
        } catch let error as AcquireError {
            throw error
        } catch {
            throw .cancelled
        }
    }

    /// Ends an attempt admitted by `acquire` (see `SchedulerCore.release`).
    func release(limiter: String, reservedTokens: TokenCount, usedTokens: TokenCount?, refund: Bool) {
        update { core, now in
            core.release(limiter: limiter, reservedTokens: reservedTokens, usedTokens: usedTokens, refund: refund, now: now)
        }
    }

    /// Pauses the whole limiter for `seconds` (after a 429).
    func coolDown(limiter: String, seconds: Double) {
        update { core, now in
            core.coolDown(limiter: limiter, until: now + seconds)
            return []
        }
    }

    /// Re-syncs a limiter from response headers.
    func sync(limiter: String, _ rateLimits: RateLimitState) {
        guard !rateLimits.isEmpty else { return }
        update { core, now in
            core.sync(limiter: limiter, rateLimits, now: now)
            return core.poll(now: now)
        }
    }

    func snapshot() -> [String: SchedulerCore.Snapshot] {
        let now = self.now
        return state.withLock { $0.core.snapshot(now: now) }
    }

    private func update(_ body: (inout SchedulerCore, Double) -> [UInt64]) {
        let now = self.now
        let granted = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            let ids = body(&state.core, now)
            let granted = Self.take(ids, from: &state)
            scheduleTimer(&state, now: now)
            return granted
        }
        for waiter in granted { waiter.resume() }
    }

    /// Makes sure a timer polls the core at its next wake time (called under the lock).
    private func scheduleTimer(_ state: inout State, now: Double) {
        guard let wake = state.core.nextWake(now: now) else { return }
        if let current = state.wakeAt, current <= wake, state.timer != nil { return }
        state.timer?.cancel()
        state.wakeAt = wake
        let delay = max(0, wake - now)
        state.timer = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000) + 1)
            guard !Task.isCancelled, let self else { return }
            self.fire()
        }
    }

    private func fire() {
        let now = self.now
        let granted = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.timer = nil
            state.wakeAt = nil
            let granted = Self.take(state.core.poll(now: now), from: &state)
            scheduleTimer(&state, now: now)
            return granted
        }
        for waiter in granted { waiter.resume() }
    }

    /// The continuations of newly granted waiters; a waiter granted before registering its
    /// continuation is marked `granted` and finds that when it does.
    private static func take(_ ids: [UInt64], from state: inout State) -> [CheckedContinuation<Void, any Error>] {
        ids.compactMap { id in
            switch state.entries[id] {
            case .waiting(let continuation)?:
                state.entries[id] = nil
                return continuation
            case .queued?:
                state.entries[id] = .granted
                return nil
            default:
                return nil
            }
        }
    }
}
