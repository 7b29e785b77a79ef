/// What every item of one batch shares: its id, priority, start and deadline.
struct BatchContext: Sendable {
    var id: UInt64
    /// The session (host connection) the batch came from.
    var connection: UInt64 = 0
    var priority: Priority
    var start: Double
    var deadline: Double?
    /// Where streamed items' deltas and resets go (nil: items are not streamed).
    var onStream: (@Sendable (StreamEvent) -> Void)?
    /// The batch's `max_cost_usd`.
    var budget: BatchBudget?
}

/// Everything about one item that does not change while it runs, on the heap: an async
/// function's locals live in its task's frame, and holding these there made every in-flight
/// item cost ~16 KB of task stack (measured with heaptrack at 2,000 in flight).
final class ItemPlan: Sendable {
    let index: Int
    let key: String?
    let batchStart: Double
    let batch: UInt64
    let connection: UInt64
    let priority: Priority
    let item: Item
    let client: any ProviderClient
    /// The provider's name, for the outcome (read once: `client.config` copies the whole config).
    let provider: String
    /// The binding deadline, and whether it is the batch's (deadline_exceeded) or the item's (timeout).
    let deadline: Double?
    let deadlineIsBatch: Bool
    /// The limiter's key, name and settings (`LimiterTable`): the same for every provider (of
    /// every session) that calls this item's origin with its key.
    let assignment: LimiterAssignment
    /// The scheduler's key for the limiter (logs say `assignment.name`).
    var limiter: String { assignment.key }
    var settings: LimiterSettings { assignment.settings }
    let reservation: TokenCount
    let retry: RetrySettings
    let policy: RetryPolicy
    /// Set when the item streams and its host listens.
    let onStream: (@Sendable (StreamEvent) -> Void)?
    /// The provider's own prices (`models.<name>.price`), and whether it is the mock (free).
    let prices: Pricing?
    let isMock: Bool
    let budget: BatchBudget?

    init(_ prepared: PreparedItem, _ work: PreparedItem.Work, batch: BatchContext, start: Double) {
        index = prepared.index
        key = prepared.key
        batchStart = batch.start
        self.batch = batch.id
        connection = batch.connection
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
        provider = config.name
        var retry = config.retry
        if let maxRetries = work.item.maxRetries { retry.maxRetries = maxRetries }
        assignment = work.limiter
        let settings = work.limiter.settings
        let countsTokens = settings.tpm != nil || settings.itpm != nil || settings.otpm != nil
        reservation = countsTokens ? TokenEstimate.split(for: work.item.request, endpoint: work.item.endpoint) : .zero
        self.retry = retry
        policy = RetryPolicy(retry)
        onStream = work.item.stream ? batch.onStream : nil
        prices = config.modelPrices.models.isEmpty ? nil : config.modelPrices
        isMock = config.kind == .mock
        budget = batch.budget
    }

    /// The most an attempt can cost: its input estimate and its output allowance (`max_tokens`
    /// or the endpoint's, else 1,024) at the price of the model it asks for; 0 on the mock; nil
    /// when the model has no price.
    @inline(never)
    func worstCost(pricing: Pricing) -> Double? {
        if isMock { return 0 }
        guard let model = item.model, let price = pricing.price(of: model, own: prices) else { return nil }
        let tokens = TokenEstimate.split(for: item.request, endpoint: item.endpoint)
        return price.cost(Usage(inputTokens: tokens.input, outputTokens: tokens.output))
    }

    /// What a success cost, from its usage: the provider's price for the model it reported
    /// (or asked for), else `pricing`'s; 0 on the mock; nil when no price is known or the
    /// provider reported no usage. Failures: nil.
    @inline(never)
    func cost(of result: Result<ItemValue, ItemError>, pricing: Pricing) -> Double? {
        guard case .success(let value) = result, let usage = value.usage else { return nil }
        if isMock { return 0 }
        return pricing.price(of: value.model, item.model, own: prices)?.cost(usage)
    }

    @inline(never)
    func outcome(_ result: Result<ItemValue, ItemError>, attempts: Int, firstAttempt: Double?, ttft: Double?, now: Double) -> Outcome {
        var outcome = Outcome(
            index: index, key: key, provider: provider, result: result, attempts: attempts,
            latencyMs: firstAttempt.map { (now - $0) * 1000 },
            queuedMs: firstAttempt.map { ($0 - batchStart) * 1000 })
        if case .success = result { outcome.ttftMs = ttft.map { $0 * 1000 } }
        return outcome
    }

    var deadlineError: ItemError {
        deadlineIsBatch
            ? ItemError(.deadlineExceeded, "the batch timeout passed before this item finished")
            : ItemError(.timeout, "the item's timeout passed")
    }

    func waitBudgetError(waited: Double) -> ItemError {
        let budget = retry.maxWaitSeconds.map { Seconds.format($0) } ?? "?"
        return ItemError(.rateLimited, "waited \(Seconds.format(waited)) s on the limits of \(limiter), the most retry.max_wait (\(budget) s) allows")
    }

    func tooLargeError(_ tooLarge: SchedulerCore.TooLarge) -> ItemError {
        ItemError(.tooLarge, "the request needs about \(tooLarge.tokens) tokens, more than the \(tooLarge.tpm) tokens per minute allowed for \(limiter)")
    }
}

/// Seconds in messages.
enum Seconds {
    /// At most one decimal: `2`, `0.5`, `12.3`.
    static func format(_ seconds: Double) -> String {
        let tenths = (seconds * 10).rounded()
        guard tenths.isFinite, abs(tenths) < 1e15 else { return "\(seconds)" }
        let whole = Int(tenths)
        return whole % 10 == 0 ? "\(whole / 10)" : "\(whole / 10).\(abs(whole % 10))"
    }
}
