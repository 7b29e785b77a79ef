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
    private let scheduler = Scheduler()
    private let admission = PauseGate()
    private let queuedItems = Atomic<Int>(0)
    private let metrics = EngineMetrics()
    private let nextBatchID = Atomic<UInt64>(1)
    private let clock = ContinuousClock()
    private let startedAt: ContinuousClock.Instant

    /// - Parameters:
    ///   - http: the shared transport.
    ///   - environment: where `api_key_env` names are looked up (the process environment).
    ///   - providers: the initial providers (e.g. from `--config`), else from the environment.
    public init(http: HTTPClient, environment: [String: String], providers: ProviderSet? = nil) {
        self.http = http
        self.environment = environment
        let set = providers ?? ProviderSet.fromEnvironment(environment)
        self.configuration = Mutex(Configuration(providers: set, clients: Self.clients(for: set, http: http)))
        self.startedAt = ContinuousClock().now
    }

    private static func clients(for set: ProviderSet, http: HTTPClient) -> [String: any ProviderClient] {
        set.providers.mapValues { makeProviderClient($0, http: http) }
    }

    // MARK: - Configuration

    /// Adds or replaces providers (`configure` / `initialize.providers`). Batches already
    /// running keep the providers they started with.
    public func configure(providers: JSONValue?, defaultProvider: String?) throws(ConfigError) {
        var set = configuration.withLock { $0.providers }
        try set.merge(providers, defaultProvider: defaultProvider, environment: environment)
        let clients = Self.clients(for: set, http: http)
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
        if paused { admission.close() } else { admission.open() }
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
        let start = clock.now
        let context = BatchContext(
            id: nextBatchID.add(1, ordering: .relaxed).oldValue,
            priority: options.priority,
            start: start,
            deadline: options.timeoutSeconds.map { start + .seconds($0) }
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
                        let now = clock.now
                        let done = summary.succeeded + summary.failed + summary.cancelled
                        if now - lastProgress >= .milliseconds(100) || done == items.count {
                            lastProgress = now
                            onProgress(BatchProgress(done: done, failed: summary.failed, total: items.count))
                        }
                    }
                }
            }
        }
        if summary.stop == nil, Task.isCancelled, summary.cancelled > 0 { summary.stop = .cancelled }
        summary.elapsedMs = Self.milliseconds(clock.now - start)
        return summary
    }

    private static func cancelReason(_ stop: BatchSummary.Stop?) -> String {
        if case .failFast(let outcome)? = stop { return "cancelled: item \(outcome.index) failed and fail_fast is set" }
        return "cancelled"
    }

    struct BatchContext: Sendable {
        var id: UInt64
        var priority: Priority
        var start: ContinuousClock.Instant
        var deadline: ContinuousClock.Instant?
    }

    // MARK: - One item

    /// Everything about one item that does not change while it runs, on the heap: an async
    /// function's locals live in its task's frame, and holding these there made every
    /// in-flight item cost ~16 KB of task stack (measured with heaptrack at 2,000 in flight).
    private final class ItemPlan: Sendable {
        let index: Int
        let key: String?
        let batchStart: ContinuousClock.Instant
        let batch: UInt64
        let priority: Priority
        let item: Item
        let client: any ProviderClient
        /// The binding deadline, and whether it is the batch's (deadline_exceeded) or the item's (timeout).
        let deadline: ContinuousClock.Instant?
        let deadlineIsBatch: Bool
        let limiter: String
        let settings: LimiterSettings
        let reservation: TokenCount
        let retry: RetrySettings
        let policy: RetryPolicy

        init(_ prepared: PreparedItem, _ work: PreparedItem.Work, batch: BatchContext, start: ContinuousClock.Instant) {
            index = prepared.index
            key = prepared.key
            batchStart = batch.start
            self.batch = batch.id
            priority = batch.priority
            item = work.item
            client = work.client
            let itemDeadline = work.item.timeoutSeconds.map { start + .seconds($0) }
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
            settings = LimiterSettings(concurrency: limits.concurrency ?? 1024, rpm: limits.rpm, tpm: limits.tpm,
                                       itpm: limits.itpm, otpm: limits.otpm,
                                       refundsUnusedTokens: config.kind != .openai)
            let countsTokens = limits.tpm != nil || limits.itpm != nil || limits.otpm != nil
            reservation = countsTokens ? TokenEstimate.split(for: work.item.request) : .zero
            limiter = work.item.model.map { "\(config.name)/\($0)" } ?? config.name
            var retry = config.retry
            if let maxRetries = work.item.maxRetries { retry.maxRetries = maxRetries }
            self.retry = retry
            policy = RetryPolicy(retry)
        }

        @inline(never)
        func outcome(_ result: Result<ItemValue, ItemError>, attempts: Int, firstAttempt: ContinuousClock.Instant?,
                     now: ContinuousClock.Instant) -> Outcome {
            Outcome(
                index: index, key: key, result: result, attempts: attempts,
                latencyMs: firstAttempt.map { Engine.milliseconds(now - $0) },
                queuedMs: firstAttempt.map { Engine.milliseconds($0 - batchStart) })
        }

        var deadlineError: ItemError {
            deadlineIsBatch
                ? ItemError(.deadlineExceeded, "the batch timeout passed before this item finished")
                : ItemError(.timeout, "the item's timeout passed")
        }
    }

    // An item's async functions are kept small on purpose. Everything an async function
    // holds across an `await` lives in its task's frame for as long as the item runs, and
    // the compiler gives each temporary its own slot: written as one function with the
    // decisions inline, the item's loop took an 11 KB frame, which at 2,000 items in flight
    // was a third of the sidecar's memory (and a malloc per 1 KB slab). So each wait is its own
    // small async function returning a `Step`, and every decision is a synchronous function.

    /// What an item does next.
    private enum Step: Sendable {
        /// Wait until the host reads our output again (backpressure).
        case waitForHost
        /// Wait for the limiter's permit.
        case admit
        /// Make an attempt (the permit is held).
        case attempt
        /// Sleep before the next attempt.
        case backOff(until: ContinuousClock.Instant)
        /// Done (boxed, so that a `Step` stays a few bytes in the frames that hold one).
        case finish(Finished)

        static func finish(_ result: Result<ItemValue, ItemError>) -> Step { .finish(Finished(result)) }
    }

    private final class Finished: Sendable {
        let result: Result<ItemValue, ItemError>
        init(_ result: Result<ItemValue, ItemError>) { self.result = result }
    }

    private func runItem(_ prepared: PreparedItem, _ batch: BatchContext) async -> Outcome {
        let start = clock.now
        guard let plan = Self.plan(prepared, batch: batch, start: start) else { return Self.malformed(prepared) }
        return await run(plan, start: start)
    }

    @inline(never)
    private static func plan(_ prepared: PreparedItem, batch: BatchContext, start: ContinuousClock.Instant) -> ItemPlan? {
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
    private func run(_ plan: ItemPlan, start: ContinuousClock.Instant) async -> Outcome {
        var attempts = 0
        var firstAttempt: ContinuousClock.Instant?
        var step = firstStep(plan, start: start)
        while true {
            switch step {
            case .waitForHost:
                step = await waitForHost(plan)
            case .admit:
                step = await admit(plan)
            case .attempt:
                attempts += 1
                step = await attempt(plan, number: attempts, firstAttempt: &firstAttempt)
            case .backOff(let until):
                step = await backOff(until: until)
            case .finish(let finished):
                return plan.outcome(finished.result, attempts: attempts, firstAttempt: firstAttempt, now: clock.now)
            }
        }
    }

    @inline(never)
    private func firstStep(_ plan: ItemPlan, start: ContinuousClock.Instant) -> Step {
        if Task.isCancelled { return .finish(.failure(Self.cancelledError)) }
        if let deadline = plan.deadline, start >= deadline { return .finish(.failure(plan.deadlineError)) }
        return admission.isClosed ? .waitForHost : .admit
    }

    private static var cancelledError: ItemError { ItemError(.cancelled, "cancelled") }

    /// Backpressure: waits (bounded by the deadline) until the host reads again.
    @inline(never)
    private func waitForHost(_ plan: ItemPlan) async -> Step {
        let admission = self.admission
        let passed = await bounded(by: plan.deadline, undo: {}) {
            do {
                try await admission.pass()
                return .finished
            } catch {
                return .cancelled
            }
        }
        return Self.step(afterWaiting: passed, plan, then: .admit)
    }

    /// Waits for admission (concurrency, RPM, TPM, cooldown), bounded by the deadline.
    @inline(never)
    private func admit(_ plan: ItemPlan) async -> Step {
        let scheduler = self.scheduler
        guard plan.deadline != nil else {
            return Self.step(afterWaiting: await Self.acquire(scheduler, plan), plan, then: .attempt)
        }
        let admitted = await bounded(
            by: plan.deadline,
            undo: { scheduler.release(limiter: plan.limiter, reservedTokens: plan.reservation, usedTokens: nil, refund: true) }
        ) {
            await Self.acquire(scheduler, plan)
        }
        return Self.step(afterWaiting: admitted, plan, then: .attempt)
    }

    private static func acquire(_ scheduler: Scheduler, _ plan: ItemPlan) async -> Bounded {
        do throws(Scheduler.AcquireError) {
            try await scheduler.acquire(limiter: plan.limiter, settings: plan.settings, tokens: plan.reservation,
                                        batch: plan.batch, priority: plan.priority)
            return .finished
        } catch {
            if case .tooLarge(let tooLarge) = error { return .tooLarge(tooLarge) }
            return .cancelled
        }
    }

    @inline(never)
    private static func step(afterWaiting waited: Bounded, _ plan: ItemPlan, then next: Step) -> Step {
        switch waited {
        case .finished: return next
        case .tooLarge(let tooLarge):
            return .finish(.failure(ItemError(
                .tooLarge, "the request needs about \(tooLarge.tokens) tokens, more than the \(tooLarge.tpm) tokens per minute allowed for \(plan.limiter)")))
        case .deadline: return .finish(.failure(plan.deadlineError))
        case .cancelled: return .finish(.failure(cancelledError))
        }
    }

    /// One attempt with the permit held; books it and decides what comes next.
    @inline(never)
    private func attempt(_ plan: ItemPlan, number: Int, firstAttempt: inout ContinuousClock.Instant?) async -> Step {
        let attemptStart = clock.now
        if firstAttempt == nil { firstAttempt = attemptStart }
        let remaining = plan.deadline.map { Self.seconds($0 - attemptStart) }
        let attempt = await plan.client.attempt(plan.item, attempt: number, timeoutSeconds: remaining)
        return step(after: attempt, number: number, plan)
    }

    @inline(never)
    private func step(after attempt: Attempt, number: Int, _ plan: ItemPlan) -> Step {
        guard let error = settle(plan, attempt) else {
            if case .success(let value) = attempt.result { return .finish(.success(value)) }
            return .finish(.failure(Self.cancelledError))  // Unreachable: settle returns the failure.
        }
        if error.kind == .cancelled || Task.isCancelled { return .finish(.failure(Self.cancelledError)) }
        let now = clock.now
        if let deadline = plan.deadline, now >= deadline { return .finish(.failure(plan.deadlineError)) }
        guard let delay = plan.policy.delay(beforeRetry: number, after: error, random: Double.random(in: 0..<1)) else {
            return .finish(.failure(error))
        }
        if let deadline = plan.deadline, now + .seconds(delay) >= deadline {
            // No time left for another attempt: report what actually went wrong.
            return .finish(.failure(error))
        }
        metrics.retried()
        return .backOff(until: now + .seconds(delay))
    }

    @inline(never)
    private func backOff(until: ContinuousClock.Instant) async -> Step {
        do {
            try await Task.sleep(until: until, clock: clock)
            return .admit
        } catch {
            return .finish(.failure(Self.cancelledError))
        }
    }

    /// Books an ended attempt with the limiter (usage, headers, 429 cooldown). Returns its
    /// error, or nil when it succeeded.
    private func settle(_ plan: ItemPlan, _ attempt: Attempt) -> ItemError? {
        var used: TokenCount?
        var failure: ItemError?
        switch attempt.result {
        case .success(let value):
            if let usage = value.usage { used = TokenCount(input: usage.inputTokens, output: usage.outputTokens) }
        case .failure(let error):
            failure = error
        }
        let refused = failure?.kind == .rateLimited
        // Reconcile with the reported usage first, then let the server's own rate-limit
        // headers (its accounting may charge max_tokens, not usage) have the last word.
        scheduler.release(limiter: plan.limiter, reservedTokens: plan.reservation, usedTokens: used, refund: refused)
        scheduler.sync(limiter: plan.limiter, attempt.rateLimits)
        if let failure, failure.kind == .rateLimited {
            metrics.rateLimited()
            // The whole limiter pauses, so the rest of the batch does not stampede.
            let pause = failure.retryAfterSeconds.flatMap { $0 <= plan.retry.maxRetryAfterSeconds ? $0 : nil }
                ?? plan.retry.initialDelaySeconds
            scheduler.coolDown(limiter: plan.limiter, seconds: pause)
        }
        return failure
    }

    private enum Bounded: Sendable {
        case finished, deadline, cancelled
        case tooLarge(SchedulerCore.TooLarge)

        var isFinished: Bool {
            if case .finished = self { return true }
            return false
        }
    }

    /// Runs `operation` until it returns, the deadline passes, or the task is cancelled.
    /// When the operation still finishes after we gave up on it, `undo` reverts it.
    @inline(never)
    private func bounded(
        by deadline: ContinuousClock.Instant?,
        undo: @escaping @Sendable () -> Void,
        _ operation: @escaping @Sendable () async -> Bounded
    ) async -> Bounded {
        guard let deadline else { return await operation() }
        let clock = self.clock
        return await withTaskGroup(of: Bounded.self) { group in
            group.addTask { await operation() }
            group.addTask {
                do {
                    try await Task.sleep(until: deadline, clock: clock)
                    return .deadline
                } catch {
                    return .cancelled
                }
            }
            let first = await group.next() ?? .cancelled
            group.cancelAll()
            switch first {
            case .deadline, .cancelled:
                // If the operation succeeded anyway while we were stopping, revert it.
                for await rest in group where rest.isFinished { undo() }
            case .finished, .tooLarge:
                break
            }
            return first
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
            limiter["cooldown_ms"] = .number(JSONNumber((entry.cooldownSeconds * 1000).rounded()) ?? 0)
            limiters[name] = .object(limiter)
        }
        object["limiters"] = .object(limiters)
        object["uptime_ms"] = .number(JSONNumber(Self.milliseconds(clock.now - startedAt).rounded()) ?? 0)
        return object
    }

    static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }

    static func seconds(_ duration: Duration) -> Double {
        milliseconds(duration) / 1000
    }
}
