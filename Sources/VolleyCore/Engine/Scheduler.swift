import VolleySystem

/// The async face of `SchedulerCore`: `acquire` waits for admission (or for its deadline),
/// `release` ends an attempt. Everything that happens with time (RPM spacing, TPM refill,
/// cooldowns, deadlines) is driven by one timer task that sleeps on the injected clock until
/// the core's `nextWake`.
final class Scheduler: Sendable {
    typealias Ticket = SchedulerCore.Ticket

    enum AcquireError: Error {
        case cancelled
        /// The waiter's deadline passed before it was granted.
        case expired
        case tooLarge(SchedulerCore.TooLarge)
    }

    /// A waiter's state. `queued` waits in the core without a continuation yet (the common
    /// case gets its permit at once and never needs one); `granted` and `expired` were
    /// decided before its continuation was registered.
    private enum Entry {
        case queued
        case waiting(CheckedContinuation<Ticket, any Error>)
        case granted(Ticket)
        case expired
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

    /// A decided waiter to resume outside the lock.
    private enum Resumption {
        case grant(CheckedContinuation<Ticket, any Error>, Ticket)
        case expire(CheckedContinuation<Ticket, any Error>)

        func resume() {
            switch self {
            case .grant(let continuation, let ticket): continuation.resume(returning: ticket)
            case .expire(let continuation): continuation.resume(throwing: AcquireError.expired)
            }
        }
    }

    private let state = Locked(State())
    let clock: any EngineClock
    private let onLimitChange: (@Sendable (LimitChange) -> Void)?

    init(clock: any EngineClock, onLimitChange: (@Sendable (LimitChange) -> Void)? = nil) {
        self.clock = clock
        self.onLimitChange = onLimitChange
    }

    /// Waits until `limiter` admits one attempt of `batch` (of `connection`) reserving
    /// `tokens`, and returns its ticket (to hand back to `release`).
    /// - Throws: `.tooLarge` at once when it can never fit; `.expired` when `deadline` passes
    ///   first; `.cancelled` when the task is cancelled first.
    func acquire(limiter: String, settings: LimiterSettings, tokens: TokenCount, batch: UInt64, connection: UInt64 = 0,
                 priority: Priority, deadline: Double?) async throws(AcquireError) -> Ticket {
        if Task.isCancelled { throw .cancelled }
        enum Admission {
            case granted(Ticket)
            case tooLarge(SchedulerCore.TooLarge)
            case expired
            case queued(UInt64)
        }
        let now = clock.now()
        // Fast path: most attempts are admitted at once, with no continuation or task switch.
        let (admission, others) = state.withLock { state -> (Admission, [Resumption]) in
            let id = state.nextID
            state.nextID += 1
            let waiter = SchedulerCore.Waiter(id: id, batch: batch, connection: connection, priority: priority, limiter: limiter, tokens: tokens,
                                              deadline: deadline)
            switch state.core.admit(waiter, settings: settings, now: now) {
            case .failure(let tooLarge):
                return (.tooLarge(tooLarge), [])
            case .success(.startedAtOnce(let ticket)):
                // Nothing else changed, so no timer needs (re)scheduling.
                return (.granted(ticket), [])
            case .success(.queued(let grants)):
                var own: Ticket?
                var others: [SchedulerCore.Grant] = []
                for grant in grants {
                    if grant.id == id { own = grant.ticket } else { others.append(grant) }
                }
                let resumptions = Self.take(SchedulerCore.Actions(granted: others), from: &state)
                if own == nil, let deadline, deadline <= now, state.core.cancel(id) {
                    // No time to wait at all (a zero wait budget): expired rather than queued.
                    scheduleTimer(&state, now: now)
                    return (.expired, resumptions)
                }
                if own == nil { state.entries[id] = .queued }
                scheduleTimer(&state, now: now)
                return (own.map { .granted($0) } ?? .queued(id), resumptions)
            }
        }
        for resumption in others { resumption.resume() }
        let id: UInt64
        switch admission {
        case .granted(let ticket): return ticket
        case .tooLarge(let tooLarge): throw .tooLarge(tooLarge)
        case .expired: throw .expired
        case .queued(let queued): id = queued
        }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Ticket, any Error>) in
                    let outcome = state.withLock { state -> Result<Ticket, AcquireError>? in
                        switch state.entries[id] {
                        case .queued?:
                            state.entries[id] = .waiting(continuation)
                            return nil
                        case .granted(let ticket)?:
                            state.entries[id] = nil
                            return .success(ticket)
                        case .expired?:
                            state.entries[id] = nil
                            return .failure(.expired)
                        case .cancelled?, .waiting?, nil:
                            state.entries[id] = nil
                            return .failure(.cancelled)
                        }
                    }
                    switch outcome {
                    case nil: break
                    case .success(let ticket)?: continuation.resume(returning: ticket)
                    case .failure(let error)?: continuation.resume(throwing: error)
                    }
                }
            } onCancel: {
                let continuation = state.withLock { state -> CheckedContinuation<Ticket, any Error>? in
                    switch state.entries[id] {
                    case .queued?:
                        // Not yet waiting on a continuation: leave a note for it.
                        if state.core.cancel(id) { state.entries[id] = .cancelled }
                        return nil
                    case .waiting(let continuation)?:
                        guard state.core.cancel(id) else { return nil }
                        state.entries[id] = nil
                        return continuation
                    case .granted?, .expired?, .cancelled?, nil:
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
    func release(limiter: String, ticket: Ticket, verdict: SchedulerCore.Verdict, reservedTokens: TokenCount,
                 usedTokens: TokenCount?) {
        // Jitter only matters for a refusal's cooldown; the system generator is a syscall.
        let random: Double
        if case .refused = verdict { random = Double.random(in: 0..<1) } else { random = 0 }
        var changes: [LimitChange] = []
        update { core, now in
            let granted = core.release(limiter: limiter, ticket: ticket, verdict: verdict,
                                       reservedTokens: reservedTokens, usedTokens: usedTokens, random: random, now: now)
            if !core.changes.isEmpty { changes = core.takeChanges() }
            return SchedulerCore.Actions(granted: granted)
        }
        if let onLimitChange { for change in changes { onLimitChange(change) } }
    }

    /// Re-syncs a limiter from response headers.
    func sync(limiter: String, _ rateLimits: RateLimitState) {
        guard !rateLimits.isEmpty else { return }
        var changes: [LimitChange] = []
        update { core, now in
            core.sync(limiter: limiter, rateLimits, now: now)
            if !core.changes.isEmpty { changes = core.takeChanges() }
            return core.poll(now: now)
        }
        if let onLimitChange { for change in changes { onLimitChange(change) } }
    }

    /// Applies new settings to a limiter at once (not at its next attempt).
    func update(limiter: String, settings: LimiterSettings) {
        update { core, now in SchedulerCore.Actions(granted: core.update(limiter: limiter, settings: settings, now: now)) }
    }

    /// Stops (true) or resumes (false) granting permits to `connection`'s items:
    /// backpressure from its host.
    func setPaused(_ paused: Bool, connection: UInt64) {
        update { core, now in SchedulerCore.Actions(granted: core.setPaused(paused, connection: connection, now: now)) }
    }

    func snapshot() -> [String: SchedulerCore.Snapshot] {
        let now = clock.now()
        return state.withLock { $0.core.snapshot(now: now) }
    }

    private func update(_ body: (inout SchedulerCore, Double) -> SchedulerCore.Actions) {
        let now = clock.now()
        let resumptions = state.withLock { state -> [Resumption] in
            let actions = body(&state.core, now)
            let resumptions = Self.take(actions, from: &state)
            scheduleTimer(&state, now: now)
            return resumptions
        }
        for resumption in resumptions { resumption.resume() }
    }

    /// Makes sure a timer polls the core at its next wake time (called under the lock).
    private func scheduleTimer(_ state: inout State, now: Double) {
        guard let wake = state.core.nextWake(now: now) else { return }
        if let current = state.wakeAt, current <= wake, state.timer != nil { return }
        state.timer?.cancel()
        state.wakeAt = wake
        let clock = self.clock
        state.timer = Task { [weak self] in
            do {
                try await clock.sleep(until: wake)
            } catch {
                return
            }
            self?.fire()
        }
    }

    private func fire() {
        let now = clock.now()
        let resumptions = state.withLock { state -> [Resumption] in
            state.timer = nil
            state.wakeAt = nil
            let resumptions = Self.take(state.core.poll(now: now), from: &state)
            scheduleTimer(&state, now: now)
            return resumptions
        }
        for resumption in resumptions { resumption.resume() }
    }

    /// The continuations of newly granted or expired waiters; a waiter decided before
    /// registering its continuation is marked and finds that when it does.
    private static func take(_ actions: SchedulerCore.Actions, from state: inout State) -> [Resumption] {
        var resumptions: [Resumption] = []
        for grant in actions.granted {
            switch state.entries[grant.id] {
            case .waiting(let continuation)?:
                state.entries[grant.id] = nil
                resumptions.append(.grant(continuation, grant.ticket))
            case .queued?:
                state.entries[grant.id] = .granted(grant.ticket)
            default:
                break
            }
        }
        for id in actions.expired {
            switch state.entries[id] {
            case .waiting(let continuation)?:
                state.entries[id] = nil
                resumptions.append(.expire(continuation))
            case .queued?:
                state.entries[id] = .expired
            default:
                break
            }
        }
        return resumptions
    }
}
