import VolleyCore

/// Everything `volley run` is told on its command line.
public struct RunOptions: Sendable {
    /// The input JSONL file.
    public var inputPath: String
    /// Where outcomes go: nil for the default (`INPUT` with `.out.jsonl`), `"-"` for stdout.
    public var outputPath: String?
    /// A JSON file `{"providers": {...}, "default_provider": "..."}`, as for `serve --config`.
    public var configPath: String?
    /// The provider for lines that name none (and for OpenAI batch lines).
    public var provider: String?
    /// The model for lines whose request names none.
    public var model: String?
    /// Override, in every configured provider (and its models), of `limits.rpm`.
    public var rpm: Int?
    /// Override of `limits.tpm`.
    public var tpm: Int?
    /// Most items in flight at once; also overrides `limits.concurrency`. Default: the default
    /// provider's concurrency limit.
    public var concurrency: Int?
    /// Override of `retry.max_retries` (a line's own `max_retries` still wins).
    public var maxRetries: Int?
    /// Seconds per item, retries included, for lines that set no `timeout`.
    public var timeoutSeconds: Double?
    /// On resume, run again the items whose earlier outcome was a failure.
    public var retryFailed: Bool
    /// On resume, count as done a success that another provider or model gave (by default such
    /// a line runs again under this run's provider and model).
    public var acceptOtherProvider: Bool
    /// Longest accepted input line; longer ones become `invalid_request` outcomes.
    public var maxLineBytes: Int
    /// Seconds between plain progress lines when stderr is not a terminal.
    public var progressIntervalSeconds: Double
    /// Most connections to one host at once (as `serve --max-connections-per-host`).
    public var maxConnectionsPerHost: Int
    /// The largest buffered response body, in bytes (`--max-response-bytes`, hidden: for tests).
    public var maxResponseBytes = RunOptions.defaultMaxResponseBytes
    /// Share rate limits in this Redis (as `serve --redis-url`; also `VOLLEY_REDIS_URL` or the
    /// config file's `shared_limits`).
    public var redisURL: String?
    /// The format of output lines.
    public var outputFormat: OutputFormat
    /// Where failed lines' outcomes go instead of the output (as the Batch API's error file).
    public var errorsPath: String?
    /// A pricing file for `cost_usd` (see `Pricing.load`).
    public var pricingPath: String?
    /// Most dollars this run may spend (its calls' worst cases reserved before sending).
    public var maxCostUSD: Double?
    /// Read the input and print what it would cost; send nothing, write nothing.
    public var dryRun = false

    public enum OutputFormat: String, Sendable, CaseIterable {
        /// Each line answered in its input's format: a Volley outcome line for an item, an
        /// OpenAI Batch output line for an OpenAI Batch line.
        case auto
        case volley
        /// `{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}`.
        case openAIBatch = "openai-batch"
    }

    public static let defaultMaxLineBytes = 16 * 1024 * 1024
    public static let defaultProgressInterval = 5.0
    public static let defaultMaxConnectionsPerHost = 32
    public static let defaultMaxResponseBytes = Engine.defaultMaxResponseBytes

    public init(
        inputPath: String,
        outputPath: String? = nil,
        configPath: String? = nil,
        provider: String? = nil,
        model: String? = nil,
        rpm: Int? = nil,
        tpm: Int? = nil,
        concurrency: Int? = nil,
        maxRetries: Int? = nil,
        timeoutSeconds: Double? = nil,
        retryFailed: Bool = false,
        acceptOtherProvider: Bool = false,
        maxLineBytes: Int = RunOptions.defaultMaxLineBytes,
        progressIntervalSeconds: Double = RunOptions.defaultProgressInterval,
        maxConnectionsPerHost: Int = RunOptions.defaultMaxConnectionsPerHost,
        redisURL: String? = nil,
        outputFormat: OutputFormat = .auto,
        errorsPath: String? = nil,
        pricingPath: String? = nil,
        maxCostUSD: Double? = nil,
        dryRun: Bool = false
    ) {
        self.pricingPath = pricingPath
        self.maxCostUSD = maxCostUSD
        self.dryRun = dryRun
        self.redisURL = redisURL
        self.outputFormat = outputFormat
        self.errorsPath = errorsPath
        self.inputPath = inputPath
        self.outputPath = outputPath
        self.configPath = configPath
        self.provider = provider
        self.model = model
        self.rpm = rpm
        self.tpm = tpm
        self.concurrency = concurrency
        self.maxRetries = maxRetries
        self.timeoutSeconds = timeoutSeconds
        self.retryFailed = retryFailed
        self.acceptOtherProvider = acceptOtherProvider
        self.maxLineBytes = maxLineBytes
        self.progressIntervalSeconds = progressIntervalSeconds
        self.maxConnectionsPerHost = maxConnectionsPerHost
    }

    /// Where outcomes are written: `-o`, else the input with `.jsonl` (or any extension)
    /// replaced by `.out.jsonl`.
    public var resolvedOutputPath: String {
        if let outputPath { return outputPath }
        return Self.defaultOutputPath(for: inputPath)
    }

    public var writesToStdout: Bool { resolvedOutputPath == "-" }

    /// `data/in.jsonl` → `data/in.out.jsonl`; `in` → `in.out.jsonl`.
    public static func defaultOutputPath(for input: String) -> String {
        let slash = input.lastIndex(of: "/")
        let nameStart = slash.map { input.index(after: $0) } ?? input.startIndex
        if let dot = input[nameStart...].lastIndex(of: "."), dot > nameStart {
            return String(input[..<dot]) + ".out.jsonl"
        }
        return input + ".out.jsonl"
    }

    /// Checks the ranges of every value; the message names the flag.
    public func validate() throws(RunSetupError) {
        if let rpm, rpm < 1 { throw RunSetupError("--rpm must be at least 1") }
        if let tpm, tpm < 1 { throw RunSetupError("--tpm must be at least 1") }
        if let concurrency, !(1...10_000).contains(concurrency) {
            throw RunSetupError("--concurrency must be from 1 to 10000")
        }
        if let maxRetries, !(0...100).contains(maxRetries) {
            throw RunSetupError("--max-retries must be from 0 to 100")
        }
        if let timeoutSeconds, !(timeoutSeconds > 0 && timeoutSeconds.isFinite) {
            throw RunSetupError("--timeout must be a positive number of seconds")
        }
        if maxLineBytes < 1024 { throw RunSetupError("--max-line-bytes must be at least 1024") }
        if !(progressIntervalSeconds > 0 && progressIntervalSeconds.isFinite) {
            throw RunSetupError("--progress-interval must be a positive number of seconds")
        }
        if maxConnectionsPerHost < 1 { throw RunSetupError("--max-connections-per-host must be at least 1") }
        if maxResponseBytes < 1024 { throw RunSetupError("--max-response-bytes must be at least 1024") }
        if let maxCostUSD, !(maxCostUSD >= 0 && maxCostUSD.isFinite) { throw RunSetupError("--max-cost must be a number of dollars, 0 or more") }
        if inputPath.isEmpty { throw RunSetupError("the input file name is empty") }
        if inputPath == "-" { throw RunSetupError("the input must be a file (reading stdin is not supported)") }
        if resolvedOutputPath == inputPath { throw RunSetupError("the output file must not be the input file") }
        if let errorsPath {
            if errorsPath.isEmpty || errorsPath == "-" { throw RunSetupError("--errors must name a file") }
            if errorsPath == inputPath || errorsPath == resolvedOutputPath {
                throw RunSetupError("--errors must be another file than the input and the output")
            }
        }
    }
}

/// A usage or configuration problem: `volley run` prints it and exits 2.
public struct RunSetupError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
