import VolleyCore
import VolleySystem

/// How a run ended.
public struct RunReport: Sendable {
    /// 0: every item has a success; 1: some failed (or an I/O error stopped the run); 2: usage or
    /// configuration error (nothing ran); 130: interrupted (what finished is in the output).
    public var exitCode: Int32
    public var counts: RunCounts
    public var interrupted: Bool
    /// The error that stopped the run, if one did (already printed).
    public var error: String?

    public init(exitCode: Int32, counts: RunCounts = RunCounts(), interrupted: Bool = false, error: String? = nil) {
        self.exitCode = exitCode
        self.counts = counts
        self.interrupted = interrupted
        self.error = error
    }
}

/// `volley run`: a JSONL file of items through the engine, one outcome line per input line.
///
/// Memory stays bounded whatever the file's size: the input is read as slots free up, at most
/// `concurrency` items exist at once (in engine batches that start all their items at once),
/// and outcomes are written as they complete. What is kept per line: a digest and the line
/// number of each explicit key read (to refuse a repeat, ``KeyLines``), and on resume digests
/// of the earlier outcomes' keys (``ResumeState``). The output is locked for the whole run.
public enum FileRun {
    /// Runs `options` to the end (or until the calling task is cancelled: items still running
    /// are then dropped without an outcome, so a rerun does them). Prints progress and the
    /// summary to `console`.
    public static func run(_ options: RunOptions, environment: [String: String], console: RunConsole) async -> RunReport {
        await run(options, environment: environment, console: console, countsLinesInBackground: true)
    }

    /// `run`, with the background count of the input's lines optional: tests turn it off to
    /// show that the run's own reading gives the total once it reaches the end of the input.
    static func run(
        _ options: RunOptions, environment: [String: String], console: RunConsole, countsLinesInBackground: Bool
    ) async -> RunReport {
        let start = ContinuousClock.now
        func fail(_ code: Int32, _ message: String) -> RunReport {
            console.write("volley run: \(message)\n")
            return RunReport(exitCode: code, error: message)
        }

        let providers: ProviderSet
        let sharedLimits: SharedLimitsSettings?
        let pricing: Pricing
        let reader: LineReader
        var resume = ResumeState()
        let writer: OutcomeWriter
        var errorsWriter: OutcomeWriter?
        do throws(RunSetupError) {
            try options.validate()
            providers = try RunProviders.build(options, environment: environment)
            sharedLimits = try RunProviders.sharedLimits(options, environment: environment)
            do throws(ConfigError) {
                pricing = try Pricing.load(path: options.pricingPath)
            } catch {
                throw RunSetupError(error.message)
            }
        } catch {
            return fail(2, error.message)
        }
        for warning in providers.keyWarnings { console.write("volley run: warning: \(warning)\n") }
        if options.dryRun { return DryRun.run(options, providers: providers, pricing: pricing, console: console) }
        do throws(FileError) {
            reader = try LineReader(path: options.inputPath, maxLineBytes: options.maxLineBytes)
            // The writer takes the output's lock first: the journal is read (and its torn last
            // line cut) only by the one run that will append to it.
            writer = try OutcomeWriter(path: options.resolvedOutputPath)
            if let errorsPath = options.errorsPath {
                do throws(FileError) {
                    errorsWriter = try OutcomeWriter(path: errorsPath)
                } catch {
                    writer.close()
                    throw error
                }
            }
        } catch {
            return fail(2, error.message)
        }
        if !options.writesToStdout {
            do throws(FileError) {
                resume = try ResumeState.load(path: options.resolvedOutputPath)
            } catch {
                writer.close()
                return fail(2, error.message)
            }
        }
        if resume.outcomeLines > 0 || resume.truncatedBytes > 0 {
            var note = "resuming from \(options.resolvedOutputPath): \(resume.outcomeLines) outcomes"
            if !resume.identitiesText.isEmpty { note += " (successes by provider/model: \(resume.identitiesText))" }
            if resume.unnamedSuccesses > 0 {
                note += "; \(resume.unnamedSuccesses) successes name no provider (an older volley wrote them): counted as done"
                    + " whatever provider this run uses"
            }
            if resume.batchSuccesses > 0 { note += "; \(resume.batchSuccesses) OpenAI Batch successes: counted as done" }
            if resume.truncatedBytes > 0 { note += "; cut an unfinished last line (\(resume.truncatedBytes) bytes)" }
            if resume.ignoredLines > 0 { note += "; ignored \(resume.ignoredLines) lines that are not outcomes" }
            console.write("volley run: \(note)\n")
        }

        let engine: Engine
        do {
            engine = try Engine(maxConnectionsPerHost: options.maxConnectionsPerHost, maxResponseBytes: options.maxResponseBytes,
                                environment: environment, providers: providers,
                                sharedLimits: sharedLimits, pricing: pricing)
        } catch {
            writer.close()
            return fail(1, "\(error)")
        }

        let counter = RunCounter()
        let inputPath = options.inputPath
        // The progress denominator while the run reads: one quick pass over the file, beside
        // the run. Once the run has read the whole input its own count is the total (the pass
        // may still be going, e.g. after a resume that skipped every line), so it never
        // overwrites that. Without a thread for it, progress shows no total until then.
        if countsLinesInBackground {
            try? DetachedThread.start(name: "volley-count") {
                if let total = try? LineCounter.countNonBlankLines(path: inputPath) {
                    counter.update { if $0.total == nil { $0.total = total } }
                }
            }
        }
        let reporter = ProgressReporter(
            counter: counter, console: console, plainIntervalSeconds: options.progressIntervalSeconds, start: start)
        let reporting = Task { await reporter.run() }

        let concurrency = options.concurrency ?? defaultConcurrency(providers)
        let pump = Pump(
            engine: engine, writer: writer, errorsWriter: errorsWriter, counter: counter, resume: resume, options: options,
            concurrency: concurrency, rawBatchCalls: Self.defaultSpeaksOpenAI(providers), console: console)
        let readError = await pump.run(reader)
        let interrupted = Task.isCancelled

        reporting.cancel()
        _ = await reporting.value
        let retries = engine.stats().counters.retries
        counter.update { $0.retries = retries }
        reporter.finish()
        let counts = counter.snapshot
        console.write(ProgressText.summary(
            counts, elapsedSeconds: reporter.elapsedSeconds, output: options.resolvedOutputPath, interrupted: interrupted))
        let writeError = writer.failure ?? errorsWriter?.failure
        writer.close()
        errorsWriter?.close()
        await engine.shutdown()

        if let error = writeError ?? readError {
            console.write("volley run: stopped: \(error)\n")
            return RunReport(exitCode: 1, counts: counts, interrupted: interrupted, error: error)
        }
        if interrupted { return RunReport(exitCode: 130, counts: counts, interrupted: true) }
        return RunReport(exitCode: counts.unsuccessful > 0 ? 1 : 0, counts: counts)
    }

    /// Whether the default provider is an OpenAI one: Batch lines then pass its replies through.
    static func defaultSpeaksOpenAI(_ providers: ProviderSet) -> Bool {
        guard case .success(let config) = providers.resolve(nil) else { return false }
        return config.kind == .openai
    }

    /// Without `--concurrency`: the default provider's concurrency limit, else 64.
    static func defaultConcurrency(_ providers: ProviderSet) -> Int {
        guard case .success(let config) = providers.resolve(nil) else { return BatchOptions.defaultConcurrency }
        return min(BatchOptions.maxConcurrency, max(1, config.limits.concurrency ?? BatchOptions.defaultConcurrency))
    }
}

/// The outcome line written for an item: `line` and `key` first, then the protocol's outcome
/// fields (`provider`, `ok`, `value` or `error`, `attempts`, `latency_ms`, `queued_ms`) without
/// `index`; after `provider`, `model`: the model the request asked for (the one the provider
/// reported is `value.model`). Resume compares both with what a rerun would send.
enum OutcomeLine {
    /// On the outcome of a line refused for repeating a key: the line that has the key.
    static let duplicateOfField = "duplicate_of"
    /// On the outcome of a line no provider could take (none named and none configured, or
    /// its key not set): `true`. Resume ignores such lines, so setting the key is enough.
    static let unroutedField = "unrouted"

    static func bytes(_ outcome: Outcome, model: String? = nil, duplicateOf: Int? = nil, unrouted: Bool = false) -> [UInt8] {
        var object: JSONObject = [
            "line": .number(JSONNumber(outcome.index)),
            "key": .string(outcome.key ?? LineDecoder.lineKey(outcome.index)),
        ]
        for (key, value) in outcome.json where key != "index" && key != "key" {
            object[key] = value
            if key == "provider", let model { object["model"] = .string(model) }
        }
        if let duplicateOf { object[duplicateOfField] = .number(JSONNumber(duplicateOf)) }
        if unrouted { object[unroutedField] = true }
        var bytes = JSONValue.object(object).jsonBytes
        bytes.append(0x0A)
        return bytes
    }

    static func invalid(line: Int, key: String, message: String) -> Outcome {
        Outcome(index: line, key: key, result: .failure(ItemError(.invalidRequest, message)),
                attempts: 0, latencyMs: nil, queuedMs: nil)
    }
}

/// What the outcome line of each item in flight needs, by line: the requested model, and the
/// Batch URL of a line in the OpenAI Batch format. At most `concurrency` entries.
final class RequestModels: Sendable {
    struct Entry: Sendable {
        var model: String?
        var batchURL: String?
    }

    private let models = Locked<[Int: Entry]>([:])

    func set(_ model: String?, batchURL: String?, line: Int) {
        guard model != nil || batchURL != nil else { return }
        models.withLock { $0[line] = Entry(model: model, batchURL: batchURL) }
    }

    func take(line: Int) -> Entry? {
        models.withLock { $0.removeValue(forKey: line) }
    }
}

/// What the pump learns while it reads, owned by its one reading task.
struct ReadState {
    /// Non-blank lines read: at the end of the input, the progress total.
    var nonBlankLines = 0
    /// Every key read so far, to refuse a repeat.
    var keys = KeyLines()
    /// Whether stderr was told that lines succeeded earlier elsewhere run again.
    var toldRunAgain = false
}

/// Reads lines, skips what the journal already has, and keeps up to `concurrency` items in
/// flight by starting engine batches of the slots that free up.
struct Pump: Sendable {
    let engine: Engine
    let writer: OutcomeWriter
    /// `--errors`: where failed lines go instead of `writer`.
    let errorsWriter: OutcomeWriter?
    let outputFormat: RunOptions.OutputFormat
    /// `--max-cost`: one budget for every batch of the run.
    let budget: BatchBudget?
    let counter: RunCounter
    let resume: ResumeState
    let retryFailed: Bool
    let acceptOtherProvider: Bool
    let console: RunConsole
    let models = RequestModels()
    let defaults: LineDefaults
    let concurrency: Int
    let slots: SlotPool

    init(
        engine: Engine, writer: OutcomeWriter, errorsWriter: OutcomeWriter? = nil, counter: RunCounter, resume: ResumeState,
        options: RunOptions, concurrency: Int, rawBatchCalls: Bool = false, console: RunConsole
    ) {
        self.engine = engine
        self.writer = writer
        self.errorsWriter = errorsWriter
        self.outputFormat = options.outputFormat
        self.budget = options.maxCostUSD.map(BatchBudget.init(limit:))
        self.counter = counter
        self.resume = resume
        self.retryFailed = options.retryFailed
        self.acceptOtherProvider = options.acceptOtherProvider
        self.console = console
        self.defaults = LineDefaults(model: options.model, timeoutSeconds: options.timeoutSeconds, batchLinesAsRawCalls: rawBatchCalls)
        self.concurrency = concurrency
        self.slots = SlotPool(capacity: concurrency)
    }

    /// Runs every line of `reader`; returns a read error if one stopped it early.
    func run(_ reader: LineReader) async -> String? {
        // Start batches of at least this many items so per-batch costs stay small; the pool
        // keeps at least `concurrency - minimumBatch + 1` items in flight while input remains.
        let minimumBatch = max(1, concurrency / 16)
        let onOutcome: @Sendable (Outcome) -> Void = { outcome in self.record(outcome, releasesSlot: true) }
        var readError: String?
        var state = ReadState()
        await withDiscardingTaskGroup { group in
            var exhausted = false
            while !exhausted {
                let granted = await slots.acquire(minimum: minimumBatch, limit: concurrency)
                var batch: [PreparedItem] = []
                batch.reserveCapacity(granted)
                while batch.count < granted, !Task.isCancelled, writer.failure == nil {
                    let line: LineReader.Line
                    do throws(FileError) {
                        guard let next = try reader.next() else {
                            exhausted = true
                            counter.update { [total = state.nonBlankLines] in $0.total = total }
                            break
                        }
                        line = next
                    } catch {
                        readError = error.message
                        exhausted = true
                        break
                    }
                    if let item = admit(line, number: reader.lineNumber, state: &state) { batch.append(item) }
                }
                if Task.isCancelled || writer.failure != nil {
                    // Interrupted, or the output is gone: start nothing more, stop what runs.
                    slots.release(granted)
                    group.cancelAll()
                    break
                }
                slots.release(granted - batch.count)
                if !batch.isEmpty {
                    group.addTask {
                        // onOutcome writes to the output, which may block (a pipe, a slow disk):
                        // not on the transport thread.
                        var options = BatchOptions(concurrency: batch.count, onTransportThread: false)
                        options.budget = budget
                        _ = await engine.run(batch, options: options, onOutcome: onOutcome)
                    }
                }
            }
        }
        return readError
    }

    /// Decodes one line; returns the item to run, or nil when the line is blank, skipped, or
    /// invalid (its outcome is then written here).
    private func admit(_ line: LineReader.Line, number: Int, state: inout ReadState) -> PreparedItem? {
        let decoded: DecodedLine
        switch line {
        case .tooLong(let byteCount):
            decoded = .invalid(key: LineDecoder.lineKey(number),
                               message: "line \(number): longer than --max-line-bytes (\(byteCount) bytes)")
        case .line(let bytes):
            decoded = LineDecoder.decode(bytes, line: number, defaults: defaults)
        }
        guard let key = decoded.key else { return nil }  // blank
        state.nonBlankLines += 1
        if let first = state.keys.use(key, line: number) {
            // Checked before the journal: the repeat is an error of the input whatever ran before.
            let message = "line \(number): duplicate key \"\(key)\": line \(first) has it already; keys (`key`, `custom_id`)"
                + " must be unique in a file, so this line is not run"
            counter.update { $0.duplicateKeys += 1 }
            record(OutcomeLine.invalid(line: number, key: key, message: message), releasesSlot: false, duplicateOf: first,
                   batch: decoded.isBatch)
            return nil
        }

        // What the line would run as: its prepared item, or why it cannot run.
        let work: Result<(item: PreparedItem, identity: RunIdentity?, model: String?), ItemError>
        var unrouted = false
        switch decoded {
        case .blank:
            return nil
        case .invalid(_, let message, _):
            work = .failure(ItemError(.invalidRequest, message))
        case .item(_, let value, _):
            switch engine.prepare([value]) {
            case .failure(let rejection):
                let reason = rejection.message.hasPrefix("requests[0]: ")
                    ? String(rejection.message.dropFirst("requests[0]: ".count)) : rejection.message
                work = .failure(ItemError(.invalidRequest, "line \(number): \(reason)"))
                unrouted = true
            case .success(let prepared):
                guard var item = prepared.first else { return nil }
                item.index = number
                let model = value["request"]?["model"]?.stringValue
                work = .success((item, item.provider.map { RunIdentity(provider: $0, model: model) }, model))
            }
        }

        let identity = (try? work.get())?.identity
        switch resume.decision(for: key, identity: identity, retryFailed: retryFailed, acceptOtherProvider: acceptOtherProvider) {
        case .skipSucceeded:
            counter.update { $0.skippedSucceeded += 1 }
            return nil
        case .skipSucceededUnnamed:
            counter.update { $0.skippedSucceeded += 1; $0.skippedUnnamed += 1 }
            return nil
        case .skipSucceededElsewhere:
            counter.update { $0.skippedSucceeded += 1; $0.acceptedOtherProvider += 1 }
            return nil
        case .skipFailed:
            counter.update { $0.skippedFailed += 1 }
            return nil
        case .runAgainElsewhere:
            counter.update { $0.rerunOtherProvider += 1 }
            if !state.toldRunAgain, let identity {
                state.toldRunAgain = true
                let journal = resume.identitiesText.isEmpty ? "" : " (the journal's successes: \(resume.identitiesText))"
                note("line \(number), key \"\(key)\": succeeded earlier, but not with \(identity.text), which this run uses"
                    + "\(journal): running it again, and every such line; --accept-other-provider counts them as done")
            }
        case .run:
            break
        }
        switch work {
        case .failure(let error):
            record(OutcomeLine.invalid(line: number, key: key, message: error.message), releasesSlot: false, unrouted: unrouted,
                   batch: decoded.isBatch)
            return nil
        case .success(let ready):
            var batchURL: String?
            if case .item(_, _, let url) = decoded { batchURL = url }
            models.set(ready.model, batchURL: batchURL, line: number)
            return ready.item
        }
    }

    /// One line on stderr, clearing the live progress line first.
    private func note(_ text: String) {
        console.write((console.isTerminal ? "\r\u{1B}[2K" : "") + "volley run: " + text + "\n")
    }

    /// Journals one outcome and counts it; an engine outcome also gives its slot back.
    private func record(_ outcome: Outcome, releasesSlot: Bool, duplicateOf: Int? = nil, unrouted: Bool = false, batch: Bool = false) {
        defer { if releasesSlot { slots.release(1) } }
        let entry = releasesSlot ? models.take(line: outcome.index) : nil
        let model = entry?.model
        if let error = outcome.error, error.kind == .cancelled {
            // Interrupted: not journaled, so a rerun does it.
            counter.update { $0.notFinished += 1 }
            return
        }
        let asBatch = outputFormat == .openAIBatch || (outputFormat == .auto && (batch || entry?.batchURL != nil))
        let line = asBatch
            ? BatchLine.bytes(outcome, url: entry?.batchURL, model: model, duplicate: duplicateOf != nil, unrouted: unrouted)
            : OutcomeLine.bytes(outcome, model: model, duplicateOf: duplicateOf, unrouted: unrouted)
        // A failure goes to --errors when given (a duplicate or unrouted line too: none ran).
        let destination = outcome.isSuccess ? writer : errorsWriter ?? writer
        guard destination.write(line) else {
            counter.update { $0.notFinished += 1 }
            return
        }
        counter.update { counts in
            switch outcome.result {
            case .success(let value):
                counts.succeeded += 1
                if let usage = value.usage { counts.usage += usage }
                if let cost = outcome.costUSD { counts.costUSD += cost } else { counts.costUnknown += 1 }
            case .failure(let error):
                counts.failed += 1
                counts.failedByKind[error.kind.rawValue, default: 0] += 1
            }
        }
    }
}
