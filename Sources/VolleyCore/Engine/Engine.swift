import Logging
import Synchronization
import VolleyHTTP

/// Runs batches of items: validation, provider binding, the batch's fan-out (its concurrency,
/// fail_fast, progress) and the process-wide counters. Each item's own life (admission,
/// attempts, retries, deadline) is ``ItemRunner``'s. One per process; shared by every batch.
public final class Engine: Sendable {
    private struct Configuration {
        var providers: ProviderSet
        var clients: [String: any ProviderClient]
        /// Which limiter each (provider, model) uses: providers sharing an API key share one.
        var limiters: LimiterTable

        init(providers: ProviderSet, clients: [String: any ProviderClient], previous: LimiterTable? = nil) {
            self.providers = providers
            self.clients = clients
            self.limiters = LimiterTable(providers, previous: previous)
        }
    }

    let http: HTTPClient
    private let environment: [String: String]
    private let configuration: Mutex<Configuration>
    private let scheduler: Scheduler
    private let queuedItems = Atomic<Int>(0)
    private let metrics = EngineMetrics()
    private let nextBatchID = Atomic<UInt64>(1)
    private let clock: any EngineClock
    private let startedAt: Double
    private let runner: ItemRunner

    /// - Parameters:
    ///   - http: the shared transport.
    ///   - environment: where `api_key_env` names are looked up (the process environment).
    ///   - providers: the initial providers (e.g. from `--config`), else from the environment.
    ///   - clock: where every wait's time comes from (tests pass a virtual clock).
    ///   - onLimitChange: told when a limiter adapts its rate or concurrency or learns a limit
    ///     from headers (for the logs).
    ///   - logger: where retries and slow items are logged (nothing is logged by default).
    public init(http: HTTPClient, environment: [String: String], providers: ProviderSet? = nil,
                clock: any EngineClock = SystemClock(), onLimitChange: (@Sendable (LimitChange) -> Void)? = nil,
                logger: Logger = Logger(label: "volley.engine", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.http = http
        self.environment = environment
        self.clock = clock
        let scheduler = Scheduler(clock: clock, onLimitChange: onLimitChange)
        self.scheduler = scheduler
        self.runner = ItemRunner(scheduler: scheduler, clock: clock, metrics: metrics, logger: logger)
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
    ///
    /// - Returns: warnings for the host (providers added without an API key).
    @discardableResult
    public func configure(providers: JSONValue?, defaultProvider: String?) throws(ConfigError) -> [String] {
        var set = configuration.withLock { $0.providers }
        let warnings = try set.merge(providers, defaultProvider: defaultProvider, environment: environment)
        let clients = Self.clients(for: set, http: http, clock: clock)
        configuration.withLock { $0 = Configuration(providers: set, clients: clients, previous: $0.limiters) }
        return warnings
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
        let (set, clients, limiters) = configuration.withLock { ($0.providers, $0.clients, $0.limiters) }
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
                    let limiter = limiters.assignment(for: config, model: item.model)
                    prepared.append(PreparedItem(index: index, key: item.key,
                                                 work: .success(.init(item: item, client: client, limiter: limiter))))
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
        let runner = self.runner
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
                    group.addTask { await runner.run(item, context) }
                }
                while let outcome = await group.next() {
                    queuedItems.subtract(1, ordering: .relaxed)
                    summary.record(outcome)
                    metrics.record(outcome)
                    onOutcome(outcome)
                    // A cancelled batch's items end `cancelled`: that is the cancellation
                    // (answered -32800), not a failure for fail_fast to stop on (-32803).
                    let cancelledByCaller = Task.isCancelled && outcome.error?.kind == .cancelled
                    if options.failFast, summary.stop == nil, !outcome.isSuccess, !cancelledByCaller {
                        summary.stop = .failFast(outcome)
                        group.cancelAll()
                    }
                    if next < items.count {
                        if summary.stop != nil || Task.isCancelled {
                            // Stopped: the rest never start.
                            for item in items[next...] {
                                let cancelled = Outcome(index: item.index, key: item.key, provider: item.provider,
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
                            group.addTask { await runner.run(item, context) }
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

    // MARK: - Stats

    /// A reading of the engine, its limiters, its connection pool and its providers.
    public func stats() -> EngineStats {
        let pool = http.stats
        return EngineStats(
            counters: metrics.counters(),
            connectionsOpened: pool.connectionsOpened, connectionsReused: pool.transfersOnReusedConnections,
            uptimeSeconds: clock.now() - startedAt, limiters: scheduler.snapshot(), providers: providerSet)
    }

    /// The `stats` result.
    public func statsJSON() -> JSONObject { stats().json }
}
