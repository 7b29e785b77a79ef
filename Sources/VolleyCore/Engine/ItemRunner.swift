import Logging
import VolleyRedis
import VolleySystem

/// The life of one item: admission, attempts, retries with backoff, the deadline, and its
/// outcome. One per engine, shared by every batch; the engine hands it items and collects
/// outcomes.
///
/// An item is a loop over ``Step``s: each step is one wait (the scheduler's permit, the
/// attempt, a backoff sleep) followed by a synchronous decision that returns the next step.
/// Every wait but the attempt itself is the scheduler's (admission, cooldown, deadline,
/// backpressure) or a sleep on the engine's clock (backoff): no task races a sleeper. A new
/// phase of an item's life (a streamed attempt, a shared budget) is a new case of ``Step``
/// and one small function here.
///
/// The async functions are kept small on purpose. Everything an async function holds across
/// an `await` lives in its task's frame for as long as the item runs, and the compiler gives
/// each temporary its own slot: written as one function with the decisions inline, the
/// item's loop took an 11 KB frame, which at 2,000 items in flight was a third of the
/// sidecar's memory (and a malloc per 1 KB slab). So each wait is its own small async
/// function returning a `Step`, and every decision is a synchronous function.
final class ItemRunner: Sendable {
    private let scheduler: Scheduler
    private let clock: any EngineClock
    private let metrics: EngineMetrics
    private let logger: Logger
    /// Limits kept in Redis, when configured.
    private let shared: SharedLimits?
    /// Providers' day budgets kept in Redis, when shared limits are configured.
    private let sharedBudgets: SharedBudgets?
    /// Model prices (a provider's own `models.<name>.price` come first).
    private let pricing: Pricing

    /// An item that took longer than this from its first attempt to its outcome is logged.
    static let slowItemSeconds = 30.0

    init(scheduler: Scheduler, clock: any EngineClock, metrics: EngineMetrics, logger: Logger, shared: SharedLimits? = nil,
         sharedBudgets: SharedBudgets? = nil, pricing: Pricing = .shipped) {
        self.shared = shared
        self.sharedBudgets = sharedBudgets
        self.pricing = pricing
        self.scheduler = scheduler
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
    }

    /// What an item does next.
    private enum Step: Sendable {
        /// Wait for the limiter's permit (bounded by the deadline and the wait budget).
        case admit
        /// With the local permit held, take the limiter's permit in Redis (shared limits).
        case share(Scheduler.Ticket)
        /// Make an attempt with the permit held.
        case attempt(Scheduler.Ticket)
        /// Sleep before the next attempt; `waiting` when the sleep counts against max_wait.
        case backOff(until: Double, waiting: Bool)
        /// Done (boxed, so that a `Step` stays a few bytes in the frames that hold one).
        case finish(Finished)

        static func finish(_ result: Result<ItemValue, ItemError>, cost: Double? = nil) -> Step { .finish(Finished(result, cost: cost)) }
    }

    private final class Finished: Sendable {
        let result: Result<ItemValue, ItemError>
        /// A success's `cost_usd` (worked out once, when its attempt was settled).
        let cost: Double?
        init(_ result: Result<ItemValue, ItemError>, cost: Double?) {
            self.result = result
            self.cost = cost
        }
    }

    /// Runs one item of `batch` to its outcome. Cancelling the calling task ends it `cancelled`.
    func run(_ prepared: PreparedItem, _ batch: BatchContext) async -> Outcome {
        let start = clock.now()
        guard let plan = Self.plan(prepared, batch: batch, start: start) else { return Self.malformed(prepared) }
        return await run(plan, start: start)
    }

    @inline(never)
    private static func plan(_ prepared: PreparedItem, batch: BatchContext, start: Double) -> ItemPlan? {
        guard case .success(let work) = prepared.work else { return nil }
        return ItemPlan(prepared, work, batch: batch, start: start)
    }

    /// The outcome of an item that failed validation.
    @inline(never)
    private static func malformed(_ prepared: PreparedItem) -> Outcome {
        var error = ItemError(.invalidRequest, "invalid item")
        if case .failure(let invalid) = prepared.work { error = invalid }
        return Outcome(index: prepared.index, key: prepared.key, result: .failure(error), attempts: 0, latencyMs: nil, queuedMs: nil)
    }

    @inline(never)
    private func run(_ plan: ItemPlan, start: Double) async -> Outcome {
        var attempts = 0
        var firstAttempt: Double?
        /// A streamed item: seconds from its last attempt's start to that attempt's first delta.
        var ttft: Double?
        /// Seconds spent waiting on limits and rate-limit backoff (for retry.max_wait).
        var waited = 0.0
        var step = firstStep(plan, start: start)
        while true {
            switch step {
            case .admit:
                step = await admit(plan, waited: &waited)
            case .share(let ticket):
                step = await share(plan, ticket, waited: &waited)
            case .attempt(let ticket):
                step = await attempt(plan, ticket, attempts: &attempts, waited: waited, firstAttempt: &firstAttempt, ttft: &ttft)
            case .backOff(let until, let waiting):
                if waiting { waited += max(0, until - clock.now()) }
                step = await backOff(until: until)
            case .finish(let finished):
                var outcome = plan.outcome(finished.result, attempts: attempts, firstAttempt: firstAttempt, ttft: ttft, now: clock.now())
                outcome.costUSD = finished.cost
                if let latencyMs = outcome.latencyMs, latencyMs > Self.slowItemSeconds * 1000 { logSlow(outcome, plan) }
                return outcome
            }
        }
    }

    @inline(never)
    private func firstStep(_ plan: ItemPlan, start: Double) -> Step {
        if Task.isCancelled { return .finish(.failure(Self.cancelledError)) }
        if let deadline = plan.deadline, start >= deadline { return .finish(.failure(plan.deadlineError)) }
        return .admit
    }

    private static var cancelledError: ItemError { ItemError(.cancelled, "cancelled") }

    /// Waits for admission (backpressure, concurrency, RPM, TPM, cooldown), until the deadline
    /// or the end of the wait budget, whichever is first.
    @inline(never)
    private func admit(_ plan: ItemPlan, waited: inout Double) async -> Step {
        let began = clock.now()
        defer { waited += clock.now() - began }
        var deadline = plan.deadline
        var budgetBinds = false
        if let maxWait = plan.retry.maxWaitSeconds {
            let budgetEnd = began + max(0, maxWait - waited)
            if deadline.map({ budgetEnd < $0 }) ?? true {
                deadline = budgetEnd
                budgetBinds = true
            }
        }
        do throws(Scheduler.AcquireError) {
            let ticket = try await scheduler.acquire(limiter: plan.limiter, settings: plan.settings, tokens: plan.reservation,
                                                     batch: plan.batch, connection: plan.connection,
                                                     priority: plan.priority, deadline: deadline)
            return shared == nil || plan.assignment.sharedID == nil ? .attempt(ticket) : .share(ticket)
        } catch {
            switch error {
            case .tooLarge(let tooLarge):
                return .finish(.failure(plan.tooLargeError(tooLarge)))
            case .expired:
                return .finish(.failure(budgetBinds ? plan.waitBudgetError(waited: waited + clock.now() - began) : plan.deadlineError))
            case .cancelled:
                return .finish(.failure(Self.cancelledError))
            }
        }
    }

    /// With the local permit held, waits for the limiter's permit in Redis: the budget every
    /// machine on the key shares. Redis unreachable: the attempt goes on under the local limits
    /// (scaled down meanwhile), or the item fails, as `on_unavailable` says.
    @inline(never)
    private func share(_ plan: ItemPlan, _ ticket: Scheduler.Ticket, waited: inout Double) async -> Step {
        let buckets = SharedBuckets(plan.settings)
        guard let shared, let id = plan.assignment.sharedID else { return .attempt(ticket) }
        switch await shared.acquire(id, tokens: plan.reservation, buckets: buckets) {
        case .granted:
            return .attempt(ticket)
        case .grantedAfter(let seconds):
            // Reserved: start then, or give the slot back to every machine if the item cannot.
            return await waitShared(seconds, plan, ticket, waited: &waited, then: .attempt(ticket)) {
                shared.giveBack(id, reserved: plan.reservation, buckets: buckets)
            }
        case .wait(let seconds):
            return await waitShared(seconds, plan, ticket, waited: &waited, then: .share(ticket)) {}
        case .othersCooldown(let seconds):
            return othersRefusal(seconds, plan, ticket, waited: waited)
        case .unavailable:
            if shared.settings.onUnavailable == .local { return .attempt(ticket) }
            return abandon(plan, ticket, ItemError(.sharedLimitsUnavailable,
                                                   "shared limits: Redis is unavailable and on_unavailable is \"fail\"; the request was not sent"))
        }
    }

    /// Sleeps `seconds` for a shared permit (counted against retry.max_wait), then `next`; past
    /// the deadline or the wait budget, or cancelled, `forfeit`s and ends the item instead.
    @inline(never)
    private func waitShared(_ seconds: Double, _ plan: ItemPlan, _ ticket: Scheduler.Ticket, waited: inout Double,
                            then next: Step, forfeit: () -> Void) async -> Step {
        let now = clock.now()
        var failure: ItemError?
        if let deadline = plan.deadline, now + seconds >= deadline {
            failure = plan.deadlineError
        } else if let maxWait = plan.retry.maxWaitSeconds, waited + seconds > maxWait {
            failure = plan.waitBudgetError(waited: waited + seconds)
        } else {
            waited += seconds
            do {
                try await clock.sleep(until: now + seconds)
                return next
            } catch {
                failure = Self.cancelledError
            }
        }
        forfeit()
        return abandon(plan, ticket, failure ?? Self.cancelledError)
    }

    /// Another machine's 429 paused the key for `seconds`: the local limiter takes it as a
    /// refusal of its own (the adaptive controller cuts the rate once per congestion and cools
    /// down until the same end), and the item queues again once the pause is over.
    @inline(never)
    private func othersRefusal(_ seconds: Double, _ plan: ItemPlan, _ ticket: Scheduler.Ticket, waited: Double) -> Step {
        scheduler.release(limiter: plan.limiter, ticket: ticket, verdict: .refused(AdaptiveLimit.Refusal(retryAfter: seconds)),
                          reservedTokens: plan.reservation, usedTokens: nil)
        let now = clock.now()
        if let deadline = plan.deadline, now + seconds >= deadline { return .finish(.failure(plan.deadlineError)) }
        if let maxWait = plan.retry.maxWaitSeconds, waited + seconds > maxWait {
            return .finish(.failure(plan.waitBudgetError(waited: waited + seconds)))
        }
        return .backOff(until: now + seconds, waiting: true)
    }

    /// Reserves the attempt's worst case against the batch's budget and its account's (the
    /// providers' `budget`); what it reserved, or the refusal when it does not fit or its model
    /// has no price (nothing could be reserved). Without a limit to hold to, nothing.
    @inline(never)
    private func reserve(_ plan: ItemPlan, now: Double) -> Result<Double, ItemError> {
        let account = plan.assignment.budget
        guard plan.budget != nil || account.isEnforced else { return .success(0) }
        let worst = plan.worstCost(pricing: pricing)
        if let budget = plan.budget {
            guard let worst else {
                return .failure(ItemError(.budgetExceeded, "max_cost_usd: no price is known for model \(plan.item.model ?? "(none)"), "
                    + "so its cost cannot be held to the budget (give one with --pricing or models.<name>.price); the request was not sent"))
            }
            guard budget.reserve(worst) else {
                return .failure(ItemError(.budgetExceeded, "max_cost_usd \(Self.dollars(budget.limit)): this call's worst case "
                    + "\(Self.dollars(worst)) does not fit the \(Self.dollars(budget.left)) left; the request was not sent"))
            }
        }
        switch account.reserve(worst, now: now, dayElsewhere: sharesDay(plan) != nil) {
        case .success:
            return .success(worst ?? 0)
        case .failure(let refusal):
            if let worst { plan.budget?.settle(reserved: worst, cost: 0) }
            switch refusal {
            case .unpriced:
                return .failure(ItemError(.budgetExceeded, "providers.\(plan.provider).budget: no price is known for model "
                    + "\(plan.item.model ?? "(none)"), so its cost cannot be held to the budget (give one with --pricing or "
                    + "models.<name>.price); the request was not sent"))
            case .tooDear(let period, let limit, let worst, let left):
                let span = period == .day ? "in any 24 hours" : "over the sidecar's lifetime"
                return .failure(ItemError(.budgetExceeded, "providers.\(plan.provider).budget: \(Self.dollars(limit)) \(span); this "
                    + "call's worst case \(Self.dollars(worst)) does not fit the \(Self.dollars(left)) left; the request was not sent"))
            }
        }
    }

    /// An attempt that reserved `worst` (and `hold` in Redis) ended having cost `cost` (nil:
    /// unknown or failed). With shared limits, a priced success is charged to its key's day in
    /// Redis whether or not this sidecar set a budget: the machines that did count it.
    @inline(never)
    private func settle(_ plan: ItemPlan, reserved worst: Double, hold: String?, cost: Double?, now: Double) {
        plan.budget?.settle(reserved: worst, cost: cost ?? 0)
        if worst > 0 || (cost ?? 0) > 0 { plan.assignment.budget.settle(reserved: worst, cost: cost ?? 0, now: now) }
        if let sharedBudgets, let id = plan.assignment.budget.sharedID { sharedBudgets.settle(id, reservation: hold, cost: cost ?? 0) }
    }

    /// The Redis id and limit of the item's day budget when Redis holds it.
    private func sharesDay(_ plan: ItemPlan) -> (id: String, limit: Double)? {
        guard sharedBudgets != nil, let id = plan.assignment.budget.sharedID, let limit = plan.assignment.budget.dayLimit else { return nil }
        return (id, limit)
    }

    /// Holds the attempt's worst case in its key's day budget in Redis (every machine's); the
    /// reservation's id, nil when there is nothing to hold there, or why the item ends unsent.
    /// Redis unreachable: this sidecar holds its own day to `local_fraction` of the limit, or
    /// the item fails, as `on_unavailable` says.
    @inline(never)
    private func holdShared(_ plan: ItemPlan, worst: Double) async -> Result<String?, ItemError> {
        guard let sharedBudgets, let (id, limit) = sharesDay(plan), worst > 0 else { return .success(nil) }
        let lapse = min(plan.deadline.map { $0 - clock.now() } ?? .infinity, plan.client.config.requestTimeoutSeconds) + 60
        switch await sharedBudgets.reserve(id, limit: limit, dollars: worst, lapse: lapse) {
        case .granted(let reservation, let spent):
            plan.assignment.budget.sharedReading(spent: spent)
            return .success(reservation)
        case .refused(let spent, let held):
            plan.assignment.budget.sharedReading(spent: spent)
            return .failure(ItemError(.budgetExceeded, "providers.\(plan.provider).budget: \(Self.dollars(limit)) in any 24 hours, "
                + "shared by every sidecar on the key; this call's worst case \(Self.dollars(worst)) does not fit the "
                + "\(Self.dollars(max(0, limit - spent - held))) left; the request was not sent"))
        case .unavailable:
            let settings = sharedBudgets.settings
            if settings.onUnavailable == .fail {
                return .failure(ItemError(.sharedLimitsUnavailable,
                                          "shared budget: Redis is unavailable and on_unavailable is \"fail\"; the request was not sent"))
            }
            guard plan.assignment.budget.dayFitsLocally(fraction: settings.localFraction, now: clock.now()) else {
                return .failure(ItemError(.budgetExceeded, "providers.\(plan.provider).budget: Redis is unavailable, and this sidecar's "
                    + "share (\(Int(settings.localFraction * 100))%) of the \(Self.dollars(limit)) a day is spent or held; the request was not sent"))
            }
            return .success(nil)
        }
    }

    private static func dollars(_ value: Double) -> String {
        "$" + String((value * 1_000_000).rounded() / 1_000_000)
    }

    /// Ends an item that will not be sent: a Redis permit it holds goes back, then the local one.
    @inline(never)
    private func refuse(_ plan: ItemPlan, _ ticket: Scheduler.Ticket, _ error: ItemError) -> Step {
        if let shared, let id = plan.assignment.sharedID {
            shared.giveBack(id, reserved: plan.reservation, buckets: SharedBuckets(plan.settings))
        }
        return abandon(plan, ticket, error)
    }

    /// Gives back a permit no attempt was made with, and ends the item with `error`.
    @inline(never)
    private func abandon(_ plan: ItemPlan, _ ticket: Scheduler.Ticket, _ error: ItemError) -> Step {
        scheduler.release(limiter: plan.limiter, ticket: ticket, verdict: .other, reservedTokens: plan.reservation, usedTokens: .zero)
        return .finish(.failure(error))
    }

    /// One attempt with the permit held; books it and decides what comes next.
    @inline(never)
    private func attempt(_ plan: ItemPlan, _ ticket: Scheduler.Ticket, attempts: inout Int, waited: Double,
                         firstAttempt: inout Double?, ttft: inout Double?) async -> Step {
        let attemptStart = clock.now()
        let worst: Double
        switch reserve(plan, now: attemptStart) {
        case .success(let reserved): worst = reserved
        case .failure(let refusal): return refuse(plan, ticket, refusal)  // Not sent: no attempt made.
        }
        var hold: String?
        if sharedBudgets != nil {
            switch await holdShared(plan, worst: worst) {
            case .success(let reservation): hold = reservation
            case .failure(let refusal):
                settle(plan, reserved: worst, hold: nil, cost: 0, now: clock.now())
                return refuse(plan, ticket, refusal)
            }
        }
        attempts += 1
        let number = attempts
        if firstAttempt == nil { firstAttempt = attemptStart }
        let remaining = plan.deadline.map { $0 - attemptStart }
        guard let onStream = plan.onStream else {
            let attempt = await plan.client.attempt(plan.item, attempt: number, timeoutSeconds: remaining)
            let cost = plan.cost(of: attempt.result, pricing: pricing)
            settle(plan, reserved: worst, hold: hold, cost: cost, now: clock.now())
            return step(after: attempt, ticket, number: number, waited: waited, plan, streamed: false, cost: cost)
        }
        let tap = StreamTap(clock: clock)
        let index = plan.index
        let attempt = await plan.client.streamAttempt(plan.item, attempt: number, timeoutSeconds: remaining) { delta in
            tap.saw()
            onStream(.delta(index: index, attempt: number, delta))
        }
        let cost = plan.cost(of: attempt.result, pricing: pricing)
        settle(plan, reserved: worst, hold: hold, cost: cost, now: clock.now())
        let first = tap.first
        ttft = first.map { $0 - attemptStart }
        return step(after: attempt, ticket, number: number, waited: waited, plan, streamed: first != nil, cost: cost)
    }

    @inline(never)
    private func step(after attempt: Attempt, _ ticket: Scheduler.Ticket, number: Int, waited: Double, _ plan: ItemPlan,
                      streamed: Bool, cost: Double?) -> Step {
        guard let error = settle(plan, ticket, attempt, number: number) else {
            if case .success(let value) = attempt.result { return .finish(.success(value), cost: cost) }
            return .finish(.failure(Self.cancelledError))  // Unreachable: settle returns the failure.
        }
        if error.kind == .cancelled || Task.isCancelled { return .finish(.failure(Self.cancelledError)) }
        let now = clock.now()
        if let deadline = plan.deadline, now >= deadline { return .finish(.failure(plan.deadlineError)) }
        guard let delay = plan.policy.delay(beforeRetry: number, after: error, random: Double.random(in: 0..<1)) else {
            return .finish(.failure(error))
        }
        if let deadline = plan.deadline, now + delay >= deadline {
            // No time left for another attempt: report what actually went wrong.
            return .finish(.failure(error))
        }
        let limited = error.kind == .rateLimited || error.kind == .overloaded
        if limited, let maxWait = plan.retry.maxWaitSeconds, waited + delay > maxWait {
            // The server asks for a longer wait than the item may spend: fail now, not later.
            return .finish(.failure(error))
        }
        metrics.retried()
        logRetry(plan, error, attempt: number, delay: delay)
        // The host discards what this attempt streamed; the next one starts the answer again.
        if streamed { plan.onStream?(.reset(index: plan.index, attempt: number)) }
        return .backOff(until: now + delay, waiting: limited)
    }

    @inline(never)
    private func logRetry(_ plan: ItemPlan, _ error: ItemError, attempt: Int, delay: Double) {
        logger.info("retrying", metadata: [
            "limiter": "\(plan.assignment.name)", "index": "\(plan.index)", "key": "\(plan.key ?? "")",
            "attempt": "\(attempt)", "kind": "\(error.kind.rawValue)", "status": "\(error.status.map(String.init) ?? "")",
            "delay_ms": "\(Int((delay * 1000).rounded()))",
            "retry_after_s": "\(error.retryAfterSeconds.map { Seconds.format($0) } ?? "")",
        ])
    }

    @inline(never)
    private func logSlow(_ outcome: Outcome, _ plan: ItemPlan) {
        logger.notice("slow item", metadata: [
            "limiter": "\(plan.assignment.name)", "index": "\(plan.index)", "key": "\(plan.key ?? "")",
            "latency_ms": "\(Int((outcome.latencyMs ?? 0).rounded()))", "attempts": "\(outcome.attempts)",
            "ok": "\(outcome.isSuccess)",
        ])
    }

    @inline(never)
    private func backOff(until: Double) async -> Step {
        do {
            try await clock.sleep(until: until)
            return .admit
        } catch {
            return .finish(.failure(Self.cancelledError))
        }
    }

    /// Books an ended attempt with the limiter (usage, headers, refusals). Returns its error,
    /// or nil when it succeeded.
    private func settle(_ plan: ItemPlan, _ ticket: Scheduler.Ticket, _ attempt: Attempt, number: Int) -> ItemError? {
        var used: TokenCount?
        var failure: ItemError?
        let verdict: SchedulerCore.Verdict
        switch attempt.result {
        case .success(let value):
            if let usage = value.usage { used = TokenCount(input: usage.inputTokens, output: usage.outputTokens) }
            verdict = .accepted(clean: number == 1)
        case .failure(let error):
            failure = error
            verdict = Self.verdict(for: error)
        }
        if failure?.kind == .rateLimited { metrics.rateLimited() }
        // Reconcile with the reported usage first, then let the server's own rate-limit
        // headers (its accounting may charge max_tokens, not usage) have the last word.
        scheduler.release(limiter: plan.limiter, ticket: ticket, verdict: verdict, reservedTokens: plan.reservation, usedTokens: used)
        scheduler.sync(limiter: plan.limiter, attempt.rateLimits)
        if let shared { settleShared(shared, plan, verdict: verdict, used: used, headers: attempt.rateLimits) }
        return failure
    }

    /// Tells Redis how an attempt ended: tokens given back or charged (as the local limiter
    /// counts them), a refusal's cooldown for every machine, what the headers say is left.
    @inline(never)
    private func settleShared(_ shared: SharedLimits, _ plan: ItemPlan, verdict: SchedulerCore.Verdict, used: TokenCount?,
                              headers: RateLimitState) {
        guard let id = plan.assignment.sharedID else { return }
        let settings = plan.settings
        let buckets = SharedBuckets(settings)
        var cooldown: Double?
        var counted = used
        switch verdict {
        case .refused(let refusal):
            cooldown = min(refusal.retryAfter ?? settings.barePause, settings.maxRetryAfter)
        case .accepted, .other:
            if let used, !settings.refundsUnusedTokens {
                counted = TokenCount(input: max(used.input, plan.reservation.input), output: max(used.output, plan.reservation.output))
            }
        }
        shared.settle(id, reserved: plan.reservation, used: counted, refusedFor: cooldown, headers: headers, buckets: buckets)
    }

    /// How the limiter counts a failed attempt: 429s and overloaded answers are refusals.
    static func verdict(for error: ItemError) -> SchedulerCore.Verdict {
        switch error.kind {
        case .rateLimited, .overloaded:
            let text = error.message.lowercased()
            let hint = text.contains("concurren") || text.contains("in flight") || text.contains("in-flight")
                || error.providerCode?.contains("concurren") == true
            let tokens = text.contains("token") || error.providerCode == "tokens"
            return .refused(AdaptiveLimit.Refusal(retryAfter: error.retryAfterSeconds, concurrencyHint: hint, tokensHint: tokens))
        default:
            return .other
        }
    }
}

/// When a streamed attempt's first delta came (on the engine's clock). Written from the
/// attempt's task only, read after it; the lock makes the closure that writes it Sendable.
private final class StreamTap: Sendable {
    private let clock: any EngineClock
    private let firstAt = Locked<Double?>(nil)

    init(clock: any EngineClock) {
        self.clock = clock
    }

    func saw() {
        firstAt.withLock { first in
            if first == nil { first = clock.now() }
        }
    }

    var first: Double? { firstAt.withLock { $0 } }
}
