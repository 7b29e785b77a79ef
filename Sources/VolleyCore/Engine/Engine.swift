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

    private func runItem(_ prepared: PreparedItem, _ batch: BatchContext) async -> Outcome {
        func outcome(_ result: Result<ItemValue, ItemError>, attempts: Int = 0, firstAttempt: ContinuousClock.Instant? = nil) -> Outcome {
            let now = clock.now
            return Outcome(
                index: prepared.index, key: prepared.key, result: result, attempts: attempts,
                latencyMs: firstAttempt.map { Self.milliseconds(now - $0) },
                queuedMs: firstAttempt.map { Self.milliseconds($0 - batch.start) })
        }
        let work: PreparedItem.Work
        switch prepared.work {
        case .failure(let error): return outcome(.failure(error))
        case .success(let value): work = value
        }
        if Task.isCancelled { return outcome(.failure(ItemError(.cancelled, "cancelled"))) }
        let itemStart = clock.now
        let itemDeadline = work.item.timeoutSeconds.map { itemStart + .seconds($0) }
        // The binding deadline, and whether it is the batch's (deadline_exceeded) or the item's (timeout).
        let deadline: (at: ContinuousClock.Instant, isBatch: Bool)?
        switch (itemDeadline, batch.deadline) {
        case let (item?, batchAt?): deadline = item <= batchAt ? (item, false) : (batchAt, true)
        case let (item?, nil): deadline = (item, false)
        case let (nil, batchAt?): deadline = (batchAt, true)
        case (nil, nil): deadline = nil
        }
        func deadlineError() -> ItemError {
            deadline?.isBatch == true
                ? ItemError(.deadlineExceeded, "the batch timeout passed before this item finished")
                : ItemError(.timeout, "the item's timeout passed")
        }
        if let deadline, itemStart >= deadline.at { return outcome(.failure(deadlineError())) }
        if admission.isClosed {
            // Backpressure: wait (bounded by the deadline) until the host reads again.
            let passed = await bounded(by: deadline?.at, undo: {}) {
                do {
                    try await self.admission.pass()
                    return .finished
                } catch {
                    return .cancelled
                }
            }
            switch passed {
            case .finished, .tooLarge: break
            case .deadline: return outcome(.failure(deadlineError()))
            case .cancelled: return outcome(.failure(ItemError(.cancelled, "cancelled")))
            }
        }

        let config = work.client.config
        let limits = config.limits(for: work.item.model)
        let settings = LimiterSettings(concurrency: limits.concurrency ?? 1024, rpm: limits.rpm, tpm: limits.tpm,
                                       itpm: limits.itpm, otpm: limits.otpm,
                                       refundsUnusedTokens: config.kind != .openai)
        let countsTokens = limits.tpm != nil || limits.itpm != nil || limits.otpm != nil
        let reservation = countsTokens ? TokenEstimate.split(for: work.item.request) : .zero
        let limiter = work.item.model.map { "\(config.name)/\($0)" } ?? config.name
        var retrySettings = config.retry
        if let maxRetries = work.item.maxRetries { retrySettings.maxRetries = maxRetries }
        let policy = RetryPolicy(retrySettings)
        var attempts = 0
        var firstAttempt: ContinuousClock.Instant?

        while true {
            // Wait for admission (concurrency, RPM, TPM, cooldown), bounded by the deadline.
            let admitted = await bounded(
                by: deadline?.at,
                undo: { self.scheduler.release(limiter: limiter, reservedTokens: reservation, usedTokens: nil, refund: true) }
            ) {
                do throws(Scheduler.AcquireError) {
                    try await self.scheduler.acquire(limiter: limiter, settings: settings, tokens: reservation,
                                                     batch: batch.id, priority: batch.priority)
                    return .finished
                } catch {
                    if case .tooLarge(let tooLarge) = error { return .tooLarge(tooLarge) }
                    return .cancelled
                }
            }
            switch admitted {
            case .finished: break
            case .tooLarge(let tooLarge):
                return outcome(.failure(ItemError(
                    .tooLarge, "the request needs about \(tooLarge.tokens) tokens, more than the \(tooLarge.tpm) tokens per minute allowed for \(limiter)")),
                    attempts: attempts, firstAttempt: firstAttempt)
            case .deadline: return outcome(.failure(deadlineError()), attempts: attempts, firstAttempt: firstAttempt)
            case .cancelled: return outcome(.failure(ItemError(.cancelled, "cancelled")), attempts: attempts, firstAttempt: firstAttempt)
            }
            let attemptStart = clock.now
            if firstAttempt == nil { firstAttempt = attemptStart }
            attempts += 1
            let remaining = deadline.map { Self.seconds($0.at - attemptStart) }
            let attempt = await work.client.attempt(work.item, attempt: attempts, timeoutSeconds: remaining)
            var used: TokenCount?
            if case .success(let value) = attempt.result, let usage = value.usage {
                used = TokenCount(input: usage.inputTokens, output: usage.outputTokens)
            }
            var refused = false
            if case .failure(let failure) = attempt.result, failure.kind == .rateLimited { refused = true }
            // Reconcile with the reported usage first, then let the server's own rate-limit
            // headers (its accounting may charge max_tokens, not usage) have the last word.
            scheduler.release(limiter: limiter, reservedTokens: reservation, usedTokens: used, refund: refused)
            scheduler.sync(limiter: limiter, attempt.rateLimits)
            let error: ItemError
            switch attempt.result {
            case .success(let value):
                return outcome(.success(value), attempts: attempts, firstAttempt: firstAttempt)
            case .failure(let failure):
                error = failure
            }
            if error.kind == .rateLimited {
                metrics.rateLimited()
                // The whole limiter pauses, so the rest of the batch does not stampede.
                let pause = error.retryAfterSeconds.flatMap { $0 <= retrySettings.maxRetryAfterSeconds ? $0 : nil }
                    ?? retrySettings.initialDelaySeconds
                scheduler.coolDown(limiter: limiter, seconds: pause)
            }
            if error.kind == .cancelled || Task.isCancelled {
                return outcome(.failure(ItemError(.cancelled, "cancelled")), attempts: attempts, firstAttempt: firstAttempt)
            }
            let now = clock.now
            if let deadline, now >= deadline.at {
                return outcome(.failure(deadlineError()), attempts: attempts, firstAttempt: firstAttempt)
            }
            guard let delay = policy.delay(beforeRetry: attempts, after: error, random: Double.random(in: 0..<1)) else {
                return outcome(.failure(error), attempts: attempts, firstAttempt: firstAttempt)
            }
            if let deadline, now + .seconds(delay) >= deadline.at {
                // No time left for another attempt: report what actually went wrong.
                return outcome(.failure(error), attempts: attempts, firstAttempt: firstAttempt)
            }
            metrics.retried()
            do {
                try await Task.sleep(until: now + .seconds(delay), clock: clock)
            } catch {
                return outcome(.failure(ItemError(.cancelled, "cancelled")), attempts: attempts, firstAttempt: firstAttempt)
            }
        }
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
