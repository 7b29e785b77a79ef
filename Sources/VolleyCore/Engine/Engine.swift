import Logging
import Synchronization
import VolleyHTTP
import VolleySystem

/// Runs batches of items: validation, provider binding, the batch's fan-out (its concurrency,
/// fail_fast, progress) and the process-wide counters. Each item's own life (admission,
/// attempts, retries, deadline) is ``ItemRunner``'s. One per process; shared by every batch and,
/// on a shared sidecar, by every host's session (``EngineSession``).
public final class Engine: Sendable {
    let http: HTTPClient
    private let environment: [String: String]
    /// The providers a new session starts with (`--config`), if not the environment's.
    private let initialProviders: ProviderSet?
    private let scheduler: Scheduler
    private let queuedItems = Atomic<Int>(0)
    private let metrics = EngineMetrics()
    private let nextBatchID = Atomic<UInt64>(1)
    private let nextSessionID = Atomic<UInt64>(2)
    private let clock: any EngineClock
    private let startedAt: Double
    private let runner: ItemRunner
    /// Every limiter, one per (origin, key, model), shared by all sessions.
    private let directory: LimiterDirectory
    /// Limits kept in Redis, shared with every sidecar on the same keys (nil: not configured).
    let shared: SharedLimits?
    /// Providers' day budgets kept in Redis (with `shared`).
    let sharedBudgets: SharedBudgets?
    /// The session of a one-host process (a stdio sidecar, `volley run`): `configure`,
    /// `prepare` and `run` without a session are its.
    public let mainSession: EngineSession

    /// - Parameters:
    ///   - http: the shared transport.
    ///   - environment: where `api_key_env` names are looked up (the process environment).
    ///   - providers: the initial providers (e.g. from `--config`), else from the environment.
    ///   - clock: where every wait's time comes from (tests pass a virtual clock).
    ///   - onLimitChange: told when a limiter adapts its rate or concurrency or learns a limit
    ///     from headers (for the logs).
    ///   - logger: where retries and slow items are logged (nothing is logged by default).
    ///   - sharedLimits: keep rate limits in Redis, shared with other sidecars (its worker
    ///     thread starts here).
    ///   - pricing: model prices for outcomes' `cost_usd` (the shipped table by default).
    public init(http: HTTPClient, environment: [String: String], providers: ProviderSet? = nil,
                clock: any EngineClock = SystemClock(), onLimitChange: (@Sendable (LimitChange) -> Void)? = nil,
                logger: Logger = Logger(label: "volley.engine", factory: { _ in SwiftLogNoOpLogHandler() }),
                sharedLimits: SharedLimitsSettings? = nil, pricing: Pricing = .shipped) {
        self.http = http
        self.environment = environment
        self.initialProviders = providers
        self.clock = clock
        // Set once the scheduler exists: a change of the hosts sharing a limiter applies to it
        // at once.
        let schedulerBox = Locked<Scheduler?>(nil)
        let directory = LimiterDirectory { changed in
            guard let scheduler = schedulerBox.withLock({ $0 }) else { return }
            for (key, settings) in changed { scheduler.update(limiter: key, settings: settings) }
        }
        self.directory = directory
        // The scheduler knows limiters by their fixed key; the logs name them as `stats` does.
        var named: (@Sendable (LimitChange) -> Void)?
        if let onLimitChange {
            named = { @Sendable (change: LimitChange) in
                var change = change
                change.limiter = directory.name(ofKey: change.limiter) ?? change.limiter
                onLimitChange(change)
            }
        }
        let scheduler = Scheduler(clock: clock, onLimitChange: named)
        schedulerBox.withLock { $0 = scheduler }
        self.scheduler = scheduler
        // Without Redis a sidecar keeps `local_fraction` of each shared rate (`local`), or
        // none is spent (`fail`: the items end instead).
        let shared = sharedLimits.map { settings in
            SharedLimits(settings, logger: logger) { degraded in
                directory.setRateScale(degraded && settings.onUnavailable == .local ? settings.localFraction : 1)
            }
        }
        self.shared = shared
        let sharedBudgets = sharedLimits.map { SharedBudgets($0, logger: logger) }
        self.sharedBudgets = sharedBudgets
        self.runner = ItemRunner(scheduler: scheduler, clock: clock, metrics: metrics, logger: logger, shared: shared,
                                 sharedBudgets: sharedBudgets,
                                 pricing: pricing)
        self.mainSession = EngineSession(id: 1, environment: environment, providers: providers, http: http,
                                         clock: clock, directory: directory)
        self.startedAt = clock.now()
        shared?.start()
        sharedBudgets?.start()
    }

    // MARK: - Sessions

    /// A new session (a host connection of a shared sidecar), starting as the main session
    /// did: with the engine's initial providers (`--config`), else those of its environment.
    public func makeSession() -> EngineSession {
        EngineSession(id: nextSessionID.add(1, ordering: .relaxed).oldValue, environment: environment,
                      providers: initialProviders, http: http, clock: clock, directory: directory)
    }

    /// Ends a session whose host is gone: its items must have ended (cancel its batches
    /// first). Its limits stop counting towards the shared limiters'.
    public func close(_ session: EngineSession) {
        session.close()
        scheduler.setPaused(false, connection: session.id)
    }

    // MARK: - Configuration (the main session)

    /// Adds or replaces providers of the main session (see `EngineSession.configure`).
    ///
    /// - Returns: warnings for the host (providers added without an API key).
    @discardableResult
    public func configure(providers: JSONValue?, defaultProvider: String?) throws(ConfigError) -> [String] {
        try mainSession.configure(providers: providers, defaultProvider: defaultProvider)
    }

    /// The main session's providers (never includes keys).
    public var providerSet: ProviderSet { mainSession.providerSet }

    // MARK: - Backpressure

    /// Stops (true) or resumes (false) starting new items of `session` (the main one by
    /// default); items already running go on. Used when its host stops reading our output.
    public func setAdmissionPaused(_ paused: Bool, session: EngineSession? = nil) {
        scheduler.setPaused(paused, connection: (session ?? mainSession).id)
    }

    /// Items accepted by `run` that have not yet got an outcome, across all batches.
    public var itemsPending: Int { queuedItems.load(ordering: .relaxed) }

    // MARK: - Batches

    /// Validates `requests` for the main session (see `EngineSession.prepare`).
    public func prepare(_ requests: [JSONValue]) -> Result<[PreparedItem], BatchRejection> {
        mainSession.prepare(requests)
    }

    /// Runs a batch prepared by `session` (the main one by default). `onOutcome` is called
    /// once per item, as each is known, one call at a time (from the batch's worker tasks, so
    /// from any thread: it must be thread-safe).
    /// `onStream` gets the deltas and resets of items that stream (without it they do not):
    /// every one of an item before its outcome.
    /// Returns when every item has an outcome.
    /// Cancelling the calling task cancels the batch: every item not finished gets a
    /// `cancelled` outcome.
    /// Pass `items` with `consume` when the batch is big: each item is taken out of the array
    /// when it starts, so its body is freed when the item is done, not at the batch's end.
    public func run(
        _ items: consuming [PreparedItem],
        options: BatchOptions,
        session: EngineSession? = nil,
        onOutcome: @escaping @Sendable (Outcome) -> Void,
        onProgress: (@Sendable (BatchProgress) -> Void)? = nil,
        onStream: (@Sendable (StreamEvent) -> Void)? = nil
    ) async -> BatchSummary {
        let start = clock.now()
        let session = session ?? mainSession
        let context = BatchContext(
            id: nextBatchID.add(1, ordering: .relaxed).oldValue,
            connection: session.id,
            priority: options.priority,
            start: start,
            deadline: options.timeoutSeconds.map { start + $0 },
            onStream: onStream,
            budget: options.budget ?? options.maxCostUSD.map(BatchBudget.init(limit:))
        )
        let count = items.count
        metrics.batchStarted()
        queuedItems.add(count, ordering: .relaxed)
        session.queuedItems.add(count, ordering: .relaxed)
        defer { metrics.batchEnded() }
        let batch = BatchRun(items: items, failFast: options.failFast, clock: clock, start: start, onOutcome: { [self] outcome in
            queuedItems.subtract(1, ordering: .relaxed)
            session.queuedItems.subtract(1, ordering: .relaxed)
            metrics.record(outcome)
            onOutcome(outcome)
        }, onProgress: onProgress)
        let runner = self.runner
        // Items run on the transport thread (see `TransportExecutor`) unless the caller's
        // callbacks may block: each waits on HTTP, and there its response is handled without
        // a hop to another thread and back.
        await withTaskExecutorPreference(options.onTransportThread ? http.executor : nil) {
            await withTaskGroup(of: Void.self) { group in
                // One worker per unit of concurrency, each running items one after another
                // (`BatchRun`): no task per item, and no wake of this task per outcome.
                for _ in 0..<max(1, min(options.concurrency, count)) {
                    group.addTask { await Self.work(batch, runner, context) }
                }
                // A worker returns early only when fail_fast stopped the batch: the items
                // still running are then cancelled (and end `cancelled`).
                for await _ in group where batch.isStopped {
                    group.cancelAll()
                }
            }
        }
        var summary = batch.summary
        if summary.stop == nil, Task.isCancelled, summary.cancelled > 0 { summary.stop = .cancelled }
        summary.elapsedMs = (clock.now() - start) * 1000
        return summary
    }

    /// A batch's worker: runs its items one after another until none is left or the batch
    /// stops. A cancelled batch's items end `cancelled`: that is the cancellation (answered
    /// -32800), not a failure for fail_fast to stop on (-32803).
    private static func work(_ batch: BatchRun, _ runner: ItemRunner, _ context: BatchContext) async {
        while let item = batch.next(cancelled: Task.isCancelled) {
            let outcome = await runner.run(item, context)
            let cancelledByCaller = Task.isCancelled && outcome.error?.kind == .cancelled
            if batch.finish(outcome, cancelledByCaller: cancelledByCaller) { return }
        }
    }

    // MARK: - Stats

    /// A reading of the engine, its limiters, its connection pool and `session`'s providers
    /// (the main session's by default).
    public func stats(session: EngineSession? = nil) -> EngineStats {
        let pool = http.stats
        // The scheduler keeps every limiter it ever saw, by key; `stats` shows those some
        // session still uses, or that still hold work, by name.
        let inUse = directory.inUse()
        var limiters: [String: SchedulerCore.Snapshot] = [:]
        var leftBehind: [(String, SchedulerCore.Snapshot)] = []
        for (key, var snapshot) in scheduler.snapshot() {
            if let assignment = inUse[key] {
                snapshot.settings.providers = assignment.settings.providers
                snapshot.settings.sessions = assignment.settings.sessions
                limiters[assignment.name] = snapshot
            } else if snapshot.inFlight > 0 || snapshot.queued > 0 {
                leftBehind.append((directory.name(ofKey: key) ?? key, snapshot))
            }
        }
        // A limiter nobody uses any more can hold the name a live one has taken since: the live
        // one keeps it.
        for (name, snapshot) in leftBehind { limiters[limiters[name] == nil ? name : "\(name) (left)"] = snapshot }
        var stats = EngineStats(
            counters: metrics.counters(),
            connectionsOpened: pool.connectionsOpened, connectionsReused: pool.transfersOnReusedConnections,
            uptimeSeconds: clock.now() - startedAt, limiters: limiters, providers: (session ?? mainSession).providerSet)
        stats.budgets = (session ?? mainSession).budgets(now: clock.now())
        stats.shared = shared.map { $0.isDegraded ? "degraded" : "on" }
        return stats
    }

    /// The `stats` result.
    public func statsJSON(session: EngineSession? = nil) -> JSONObject { stats(session: session).json }
}
