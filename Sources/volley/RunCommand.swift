import ArgumentParser
import CProcessSetup
import Dispatch
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Synchronization
import VolleyRPC
import VolleyRun
import VolleySystem

/// `volley run INPUT.jsonl [-o OUTPUT.jsonl] [options]` (see docs/run.md).
///
/// The arguments are parsed here rather than by the root command so that every usage error
/// exits 2, as documented (ArgumentParser's own usage errors exit 64, and only the root
/// command could change that).
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a JSONL file of LLM calls: one outcome line per input line, resumable.",
        usage: "volley run INPUT.jsonl [-o OUTPUT.jsonl] [options]",
        discussion: "Run `volley run --help` for the options, and see docs/run.md.",
        helpNames: []
    )

    @Argument(parsing: .captureForPassthrough, help: .hidden)
    var arguments: [String] = []

    func run() async throws {
        let parsed: RunArguments
        do {
            parsed = try RunArguments.parse(arguments)
        } catch {
            let message = RunArguments.fullMessage(for: error)
            if RunArguments.exitCode(for: error) == .success {
                print(message)
                throw ExitCode.success
            }
            writeToStandardError("\(message)\n")
            throw ExitCode(2)
        }
        ignoreSIGPIPE()
        volley_process_setup()  // Done before main; the call keeps it linked.
        let options = parsed.options
        let task = Task { await FileRun.run(options, environment: processEnvironment(), console: .standardError()) }
        let signals = InterruptSignals { task.cancel() }
        let report = await task.value
        signals.cancel()
        throw ExitCode(report.exitCode)
    }
}

/// The options of `volley run`, parsed from the arguments `Run` passes through.
struct RunArguments: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volley run",
        abstract: "Run a JSONL file of LLM calls: one outcome line per input line, resumable.",
        discussion: """
        Each input line is a Volley item ({"key", "provider", "request", ...}) or an OpenAI Batch \
        API line ({"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {...}}). \
        Each outcome is appended to the output as it completes, with its `line` and `key` \
        (custom_id, or line:<n> when the line has none). Rerunning with the same output skips \
        keys that already succeeded with the same provider and model (and failed ones, unless \
        --retry-failed); a key that repeats an earlier line's is an invalid line, not a second call. \
        Only one run at a time writes an output (it is locked). Exit status: 0 all \
        succeeded, 1 some failed, 2 usage or configuration error (or the output in use by another run), 130 \
        interrupted. See docs/run.md.
        """
    )

    @Argument(help: ArgumentHelp("The input JSONL file.", valueName: "input"))
    var input: String

    @Option(name: [.short, .long], help: ArgumentHelp(
        "Output JSONL file (also the journal resumed from); `-` for stdout. Default: INPUT with .out.jsonl.",
        valueName: "file"))
    var output: String?

    @Option(name: .long, help: ArgumentHelp(
        "A JSON file {\"providers\": {...}, \"default_provider\": \"...\"}, as for `volley serve`.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Provider for lines that name none (and for OpenAI batch lines).", valueName: "name"))
    var provider: String?

    @Option(name: .long, help: ArgumentHelp("Model for lines whose request names none.", valueName: "name"))
    var model: String?

    @Option(name: .long, help: "Requests per minute (overrides the providers' limits).")
    var rpm: Int?

    @Option(name: .long, help: "Tokens per minute (overrides the providers' limits).")
    var tpm: Int?

    @Option(name: .long, help: "Most calls in flight at once (overrides the providers' limits). Default: the default provider's limit.")
    var concurrency: Int?

    @Option(name: .long, help: "Retries per item after the first attempt (overrides the providers' retry.max_retries).")
    var maxRetries: Int?

    @Option(name: .long, help: ArgumentHelp("Seconds per item, retries included, for lines that set no timeout.", valueName: "seconds"))
    var timeout: Double?

    @Flag(name: .long, help: "On resume, run again the items whose earlier outcome is a failure.")
    var retryFailed = false

    @Flag(name: .long, help: """
        On resume, count as done a success that another provider or model gave. Without it such a \
        line runs again (and is paid for again) under this run's provider and model; stderr says so. \
        A success journaled without its provider (by an older volley) always counts as done.
        """)
    var acceptOtherProvider = false

    @Option(name: .long, help: "Longest accepted input line, in bytes; longer lines become invalid_request outcomes.")
    var maxLineBytes: Int = RunOptions.defaultMaxLineBytes

    @Option(name: .long, help: ArgumentHelp("Seconds between progress lines when stderr is not a terminal.", valueName: "seconds"))
    var progressInterval: Double = RunOptions.defaultProgressInterval

    @Option(name: .long, help: "Most connections to one host at once.")
    var maxConnectionsPerHost: Int = RunOptions.defaultMaxConnectionsPerHost

    // Hidden: for tests of an oversized reply (docs/run.md, "Usage").
    @Option(name: .long, help: .hidden)
    var maxResponseBytes: Int = RunOptions.defaultMaxResponseBytes

    @Option(name: .long, help: ArgumentHelp(
        "Share rate limits with every sidecar using this Redis (as volley serve --redis-url; also VOLLEY_REDIS_URL).",
        valueName: "url"))
    var redisURL: String?

    @Option(name: .long, help: ArgumentHelp("""
        Format of output lines: auto (each line in its input's format), volley (outcome lines), or openai-batch \
        (OpenAI Batch output lines: id, custom_id, response {status_code, request_id, body}, error).
        """, valueName: "format"))
    var outputFormat: String = RunOptions.OutputFormat.auto.rawValue

    @Option(name: .long, help: ArgumentHelp(
        "A pricing file for outcomes' cost_usd (as volley serve --pricing).", valueName: "file"))
    var pricing: String?

    @Option(name: .long, help: ArgumentHelp("""
        Most dollars this run may spend: each call's worst case is reserved before it is sent; a line that does not \
        fit (or whose model has no price) ends budget_exceeded, unsent.
        """, valueName: "usd"))
    var maxCost: Double?

    @Flag(name: .long, help: "Count the lines and print their estimated cost (inputs alone, half and all of each max_tokens); send nothing.")
    var dryRun = false

    @Option(name: .long, help: ArgumentHelp(
        "Write failed lines' outcomes to this file instead of the output (as the Batch API's error file); a resume runs them again.",
        valueName: "file"))
    var errors: String?

    var options: RunOptions {
        var options = RunOptions(
            inputPath: input, outputPath: output, configPath: config, provider: provider, model: model,
            rpm: rpm, tpm: tpm, concurrency: concurrency, maxRetries: maxRetries, timeoutSeconds: timeout,
            retryFailed: retryFailed, acceptOtherProvider: acceptOtherProvider, maxLineBytes: maxLineBytes, progressIntervalSeconds: progressInterval,
            maxConnectionsPerHost: maxConnectionsPerHost, redisURL: redisURL,
            outputFormat: RunOptions.OutputFormat(rawValue: outputFormat) ?? .auto, errorsPath: errors, pricingPath: pricing, maxCostUSD: maxCost)
        options.dryRun = dryRun
        options.maxResponseBytes = maxResponseBytes
        return options
    }

    func validate() throws {
        guard RunOptions.OutputFormat(rawValue: outputFormat) != nil else {
            throw ValidationError("--output-format must be one of \(RunOptions.OutputFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        do {
            try options.validate()
        } catch {
            throw ValidationError(error.message)
        }
    }
}

/// SIGINT and SIGTERM cancel the run (what finished is already in the output); a second one
/// exits at once.
final class InterruptSignals: Sendable {
    private let sources: Locked<[any DispatchSourceSignal]>

    init(onInterrupt: @escaping @Sendable () -> Void) {
        let seen = Atomic<Int>(0)
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if seen.add(1, ordering: .relaxed).newValue > 1 { exitProcess(130) }
                onInterrupt()
            }
            source.resume()
            sources.append(source)
        }
        self.sources = Locked(sources)
    }

    func cancel() {
        sources.withLock { sources in
            for source in sources { source.cancel() }
            sources = []
        }
    }
}
