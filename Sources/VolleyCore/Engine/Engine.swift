import Synchronization
import VolleyHTTP

/// Runs batches of items: validation, provider binding, fair admission, attempts, retries,
/// deadlines and cancellation. One per process; shared by every batch.
public final class Engine: Sendable {
    private struct Configuration {
        var providers: ProviderSet
        var clients: [String: any ProviderClient]
    }

    private let http: HTTPClient
    private let environment: [String: String]
    private let configuration: Mutex<Configuration>
    private let scheduler: Scheduler
    private let queuedItems = Atomic<Int>(0)
    private let metrics = EngineMetrics()
    private let nextBatchID = Atomic<UInt64>(1)
    private let clock: any EngineClock
    private let startedAt: Double

    /// - Parameters:
    ///   - http: the shared transport.
    ///   - environment: where `api_key_env` names are looked up (the process environment).
    ///   - providers: the initial providers (e.g. from `--config`), else from the environment.
    ///   - clock: where every wait's time comes from (tests pass a virtual clock).
    ///   - onLimitChange: told when a limiter adapts its rate or concurrency (for the logs).
    public init(http: HTTPClient, environment: [String: String], providers: ProviderSet? = nil,
                clock: any EngineClock = SystemClock(), onLimitChange: (@Sendable (LimitChange) -> Void)? = nil) {
        self.http = http
        self.environment = environment
        self.clock = clock
        self.scheduler = Scheduler(clock: clock, onLimitChange: onLimitChange)
        let set = providers ?? ProviderSet.fromEnvironment(environment)
        self.configuration = Mutex(Configuration(providers: set, clients: Self.clients(for: set, http: http, clock: clock)))
        self.startedAt = clock.now()
    }

    private static func clients(for set: ProviderSet, http: HTTPClient, clock: any EngineClock) -> [String: any ProviderClient] {
        set.providers.mapValues { makeProviderClient($0, http: http, clock: clock) }
    }

    // MARK: - Configuration

    /// Adds or replaces providers (`configure` / `initialize.providers`). Batches already
    /// running keep the providers they started with.
    public func configure(providers: JSONValue?, defaultProvider: String?) throws(ConfigError) {
        var set = configuration.withLock { $0.providers }
        try set.merge(providers, defaultProvider: defaultProvider, environment: environment)
        let clients = Self.clients(for: set, http: http, clock: clock)
        configuration.withLock { $0 = Configuration(providers: set, clients: clients) }
    }

    /// The configured providers, for `initialize` and `stats` (never includes keys).
    public var providerSet: ProviderSet {
        configuration.withLock { $0.providers }
    }

    // MARK: - Backpressure

    /// Stops (true) or resumes (false) starting new items; items already running go on.
    /// Used when the host stops reading our output.
    public func setAdmissionPaused(_ paused: Bool) {
        scheduler.setPaused(paused)
    }

    /// Items accepted by `run` that have not yet got an outcome, across all batches.
    public var itemsPending: Int { queuedItems.load(ordering: .relaxed) }

    // MARK: - Batches

    /// Validates `requests` and binds each item to its provider. Malformed items become
    /// `invalid_request` outcomes later; an unknown or missing provider rejects the batch.
    public func prepare(_ requests: [JSONValue]) -> Result<[PreparedItem], BatchRejection> {
        let (set, clients) = configuration.withLock { ($0.providers, $0.clients) }
        var prepared: [PreparedItem] = []
        prepared.reserveCapacity(requests.count)
        for (index, value) in requests.enumerated() {
            switch Item.parse(value) {
            case .failure(let error):
                prepared.append(PreparedItem(index: index, key: Item.key(of: value), work: .failure(error)))
            case .success(let item):
                switch set.resolve(item.provider) {
                case .failure(let error):
                    return .failure(BatchRejection(index: index, message: "requests[\(index)]: \(error.message)"))
                case .success(let config):
                    guard let client = clients[config.name] else {
                        return .failure(BatchRejection(index: index, message: "requests[\(index)]: provider \(config.name) is not ready"))
                    }
                    prepared.append(PreparedItem(index: index, key: item.key, work: .success(.init(item: item, client: client))))
                }
            }
        }
        return .success(prepared)
    }

    /// Runs a prepared batch. `onOutcome` is called once per item, as each is known (from
    /// concurrent tasks: it must be thread-safe). Returns when every item has an outcome.
    /// Cancelling the calling task cancels the batch: every item not finished gets a
    /// `cancelled` outcome.
    public func run(
        _ items: [PreparedItem],
        options: BatchOptions,
        onOutcome: @escaping @Sendable (Outcome) -> Void,
        onProgress: (@Sendable (BatchProgress) -> Void)? = nil
    ) async -> BatchSummary {
        let start = clock.now()
        let context = BatchContext(
            id: nextBatchID.add(1, ordering: .relaxed).oldValue,
            priority: options.priority,
            start: start,
            deadline: options.timeoutSeconds.map { start + $0 }
        )
        metrics.batchStarted()
        queuedItems.add(items.count, ordering: .relaxed)
        defer { metrics.batchEnded() }
        var summary = BatchSummary(total: items.count)
        var lastProgress = start
        // Items run on the transport thread (see `TransportExecutor`) unless the caller's
        // callbacks may block: each waits on HTTP, and there its response is handled without
        // a hop to another thread and back.
        await withTaskExecutorPreference(options.onTransportThread ? http.executor : nil) {
            await withTaskGroup(of: Outcome.self) { group in
                var next = 0
                let width = max(1, min(options.concurrency, items.count))
                while next < width {
                    let item = items[next]
                    next += 1
                    group.addTask { await self.runItem(item, context) }
                }
                while let outcome = await group.next() {
                    queuedItems.subtract(1, ordering: .relaxed)
                    summary.record(outcome)
                    metrics.record(outcome)
                    onOutcome(outcome)
                    if options.failFast, summary.stop == nil, !outcome.isSuccess {
                        summary.stop = .failFast(outcome)
                        group.cancelAll()
                    }
                    if next < items.count {
                        if summary.stop != nil || Task.isCancelled {
                            // Stopped: the rest never start.
                            for item in items[next...] {
                                let cancelled = Outcome(index: item.index, key: item.key,
                                                        result: .failure(ItemError(.cancelled, Self.cancelReason(summary.stop))),
                                                        attempts: 0, latencyMs: nil, queuedMs: nil)
                                queuedItems.subtract(1, ordering: .relaxed)
                                summary.record(cancelled)
                                metrics.record(cancelled)
                                onOutcome(cancelled)
                            }
                            next = items.count
                        } else {
                            let item = items[next]
                            next += 1
                            group.addTask { await self.runItem(item, context) }
                        }
                    }
                    if let onProgress {
                        let now = clock.now()
                        let done = summary.succeeded + summary.failed + summary.cancelled
                        if now - lastProgress >= 0.1 || done == items.count {
                            lastProgress = now
                            onProgress(BatchProgress(done: done, failed: summary.failed, total: items.count))
                        }
                    }
                }
            }
        }
        if summary.stop == nil, Task.isCancelled, summary.cancelled > 0 { summary.stop = .cancelled }
        summary.elapsedMs = (clock.now() - start) * 1000
        return summary
    }

    private static func cancelReason(_ stop: BatchSummary.Stop?) -> String {
        if case .failFast(let outcome)? = stop { return "cancelled: item \(outcome.index) failed and fail_fast is set" }
        return "cancelled"
    }

    struct BatchContext: Sendable {
        var id: UInt64
        var priority: Priority
        var start: Double
        var deadline: Double?
    }

    // MARK: - One item

    /// Everything about one item that does not change while it runs, on the heap: an async
    /// function's locals live in its task's frame, and holding these there made every
    /// in-flight item cost ~16 KB of task stack (measured with heaptrack at 2,000 in flight).
    private final class ItemPlan: Sendable {
        let index: Int
        let key: String?
        let batchStart: Double
        let batch: UInt64
        let priority: Priority
        let item: Item
        let client: any ProviderClient
        /// The binding deadline, and whether it is the batch's (deadline_exceeded) or the item's (timeout).
        let deadline: Double?
        let deadlineIsBatch: Bool
        let limiter: String
        let settings: LimiterSettings
        let reservation: TokenCount
        let retry: RetrySettings
        let policy: RetryPolicy

        init(_ prepared: PreparedItem, _ work: PreparedItem.Work, batch: BatchContext, start: Double) {
            index = prepared.index
            key = prepared.key
            batchStart = batch.start
            self.batch = batch.id
            priority = batch.priority
            item = work.item
            client = work.client
            let itemDeadline = work.item.timeoutSeconds.map { start + $0 }
            switch (itemDeadline, batch.deadline) {
            case let (item?, batchAt?):
                deadline = min(item, batchAt)
                deadlineIsBatch = batchAt < item
            case let (item?, nil):
                deadline = item
                deadlineIsBatch = false
            case let (nil, batchAt?):
                deadline = batchAt
                deadlineIsBatch = true
            case (nil, nil):
                deadline = nil
                deadlineIsBatch = false
            }
            let config = work.client.config
            let limits = config.limits(for: work.item.model)
            var retry = config.retry
            if let maxRetries = work.item.maxRetries { retry.maxRetries = maxRetries }
            settings = LimiterSettings(
                concurrency: limits.concurrency ?? 1024, rpm: limits.rpm, tpm: limits.tpm,
                itpm: limits.itpm, otpm: limits.otpm, burst: limits.burst, tokenBurst: limits.tokenBurst,
                refundsUnusedTokens: config.kind != .openai,
                adaptive: config.kind != .mock && (limits.adaptive ?? true),
                slowStart: !config.configuresRateOrConcurrency(for: work.item.model),
                maxRetryAfter: retry.maxRetryAfterSeconds, barePause: retry.initialDelaySeconds)
            let countsTokens = limits.tpm != nil || limits.itpm != nil || limits.otpm != nil
            reservation = countsTokens ? TokenEstimate.split(for: work.item.request) : .zero
            limiter = work.item.model.map { "\(config.name)/\($0)" } ?? config.name
            self.retry = retry
            policy = RetryPolicy(retry)
        }

        @inline(never)
        func outcome(_ result: Result<ItemValue, ItemError>, attempts: Int, firstAttempt: Double?, now: Double) -> Outcome {
            Outcome(
                index: index, key: key, result: result, attempts: attempts,
                latencyMs: firstAttempt.map { (now - $0) * 1000 },
                queuedMs: firstAttempt.map { ($0 - batchStart) * 1000 })
        }

        var deadlineError: ItemError {
            deadlineIsBatch
                ? ItemError(.deadlineExceeded, "the batch timeout passed before this item finished")
                : ItemError(.timeout, "the item's timeout passed")
        }

        func waitBudgetError(waited: Double) -> ItemError {
            let budget = retry.maxWaitSeconds.map { Engine.format($0) } ?? "?"
            return ItemError(.rateLimited, "waited \(Engine.format(waited)) s on the limits of \(limiter), the most retry.max_wait (\(budget) s) allows")
        }
    }

    // An item's async functions are kept small on purpose. Everything an async function
    // holds across an `await` lives in its task's frame for as long as the item runs, and
    // the compiler gives each temporary its own slot: written as one function with the
    // decisions inline, the item's loop took an 11 KB frame, which at 2,000 items in flight
    // was a third of the sidecar's memory (and a malloc per 1 KB slab). So each wait is its own
    // small async function returning a `Step`, and every decision is a synchronous function.
    // Every wait but the attempt itself is the scheduler's (admission, cooldown, deadline,
    // backpressure) or a sleep on the engine's clock (backoff): no task races a sleeper.

    /// What an item does next.
    private enum Step: Sendable {
        /// Wait for the limiter's permit (bounded by the deadline and the wait budget).
        case admit
        /// Make an attempt with the permit held.
        case attempt(Scheduler.Ticket)
        /// Sleep before the next attempt; `waiting` when the sleep counts against max_wait.
        case backOff(until: Double, waiting: Bool)
        /// Done (boxed, so that a `Step` stays a few bytes in the frames that hold one).
        case finish(Finished)

        static func finish(_ result: Result<ItemValue, ItemError>) -> Step { .finish(Finished(result)) }
    }

    private final class Finished: Sendable {
        let result: Result<ItemValue, ItemError>
        init(_ result: Result<ItemValue, ItemError>) { self.result = result }
    }

    private func runItem(_ prepared: PreparedItem, _ batch: BatchContext) async -> Outcome {
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
        /// Seconds spent waiting on limits and rate-limit backoff (for retry.max_wait).
        var waited = 0.0
        var step = firstStep(plan, start: start)
        while true {
            switch step {
            case .admit:
                step = await admit(plan, waited: &waited)
            case .attempt(let ticket):
                attempts += 1
                step = await attempt(plan, ticket, number: attempts, waited: waited, firstAttempt: &firstAttempt)
            case .backOff(let until, let waiting):
                if waiting { waited += max(0, until - clock.now()) }
                step = await backOff(until: until)
            case .finish(let finished):
                return plan.outcome(finished.result, attempts: attempts, firstAttempt: firstAttempt, now: clock.now())
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
                                                     batch: plan.batch, priority: plan.priority, deadline: deadline)
            return .attempt(ticket)
        } catch {
            switch error {
            case .tooLarge(let tooLarge):
                return .finish(.failure(ItemError(
                    .tooLarge, "the request needs about \(tooLarge.tokens) tokens, more than the \(tooLarge.tpm) tokens per minute allowed for \(plan.limiter)")))
            case .expired:
                return .finish(.failure(budgetBinds ? plan.waitBudgetError(waited: waited + clock.now() - began) : plan.deadlineError))
            case .cancelled:
                return .finish(.failure(Self.cancelledError))
            }
        }
    }

    /// One attempt with the permit held; books it and decides what comes next.
    @inline(never)
    private func attempt(_ plan: ItemPlan, _ ticket: Scheduler.Ticket, number: Int, waited: Double,
                         firstAttempt: inout Double?) async -> Step {
        let attemptStart = clock.now()
        if firstAttempt == nil { firstAttempt = attemptStart }
        let remaining = plan.deadline.map { $0 - attemptStart }
        let attempt = await plan.client.attempt(plan.item, attempt: number, timeoutSeconds: remaining)
        return step(after: attempt, ticket, number: number, waited: waited, plan)
    }

    @inline(never)
    private func step(after attempt: Attempt, _ ticket: Scheduler.Ticket, number: Int, waited: Double, _ plan: ItemPlan) -> Step {
        guard let error = settle(plan, ticket, attempt, number: number) else {
            if case .success(let value) = attempt.result { return .finish(.success(value)) }
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
        return .backOff(until: now + delay, waiting: limited)
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
        return failure
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

    // MARK: - Stats

    /// Engine counters and per-limiter state, for the `stats` method.
    public func statsJSON() -> JSONObject {
        var object = metrics.json()
        let snapshot = scheduler.snapshot()
        object["in_flight"] = .number(JSONNumber(snapshot.values.reduce(0) { $0 + $1.inFlight }))
        object["queued"] = .number(JSONNumber(snapshot.values.reduce(0) { $0 + $1.queued }))
        var limiters: JSONObject = [:]
        for name in snapshot.keys.sorted() {
            guard let entry = snapshot[name] else { continue }
            var limiter: JSONObject = [
                "in_flight": .number(JSONNumber(entry.inFlight)),
                "queued": .number(JSONNumber(entry.queued)),
                "concurrency": .number(JSONNumber(entry.settings.concurrency)),
            ]
            if let rpm = entry.settings.rpm { limiter["rpm"] = .number(JSONNumber(rpm)) }
            if let tpm = entry.settings.tpm { limiter["tpm"] = .number(JSONNumber(tpm)) }
            if let itpm = entry.settings.itpm { limiter["itpm"] = .number(JSONNumber(itpm)) }
            if let otpm = entry.settings.otpm { limiter["otpm"] = .number(JSONNumber(otpm)) }
            if let learned = entry.learnedRPM { limiter["rpm_learned"] = .number(JSONNumber(learned)) }
            if let learned = entry.learnedTPM { limiter["tpm_learned"] = .number(JSONNumber(learned)) }
            if let requests = entry.requestsAvailable { limiter["requests_available"] = .number(JSONNumber(requests)) }
            if let tokens = entry.tokensAvailable { limiter["tokens_available"] = .number(JSONNumber(tokens)) }
            if let rpm = entry.effectiveRPM { limiter["rpm_effective"] = .number(JSONNumber((rpm * 10).rounded() / 10) ?? 0) }
            if let tpm = entry.effectiveTPM { limiter["tpm_effective"] = .number(JSONNumber(tpm.rounded()) ?? 0) }
            limiter["concurrency_effective"] = .number(JSONNumber(entry.effectiveConcurrency))
            limiter["cooldown_ms"] = .number(JSONNumber((entry.cooldownSeconds * 1000).rounded()) ?? 0)
            limiters[name] = .object(limiter)
        }
        object["limiters"] = .object(limiters)
        object["uptime_ms"] = .number(JSONNumber(((clock.now() - startedAt) * 1000).rounded()) ?? 0)
        return object
    }

    /// Seconds with at most one decimal, for messages.
    static func format(_ seconds: Double) -> String {
        let tenths = (seconds * 10).rounded()
        guard tenths.isFinite, abs(tenths) < 1e15 else { return "\(seconds)" }
        let whole = Int(tenths)
        return whole % 10 == 0 ? "\(whole / 10)" : "\(whole / 10).\(abs(whole % 10))"
    }
}
