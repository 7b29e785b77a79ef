import ArgumentParser
import CProcessSetup
import CVolleyBuildInfo
import Logging
import VolleyCore
import VolleyRPC
import VolleySystem

/// The version reported by `--version` and `initialize`. The Python and Node clients carry the
/// same number (clients/python/tests/test_versions.py checks every copy).
let volleyVersion = "0.1.0"

/// What `volley --version` prints: the version alone on the first line (what `initialize`
/// reports as `server.version`, and what a script reads), the protocol version, then how the
/// binary was built (recorded by scripts/package; a development build says so).
let versionText: String = {
    let built = String(cString: volley_build_info())
    return "\(volleyVersion)\nprotocol: \(Server.protocolVersion)\n"
        + (built.isEmpty ? "build: development (swift build; scripts/package records commit and toolchain)" : built)
}()

@main
struct VolleyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volley",
        abstract: "Run batches of LLM API calls concurrently, for host programs in any language.",
        discussion: """
        A host spawns `volley` once and talks JSON-RPC 2.0 over stdin/stdout, one message per \
        line (see docs/protocol.md). Volley runs each batch over one shared connection pool, \
        with rate limits, retries, timeouts and cancellation, and answers in input order \
        (gather) or as each call finishes (as_completed).

        `volley` alone serves; its flags (--config, --log-level, limits) are listed by \
        `volley help serve`, those of a file run by `volley help run`. A bad command line exits 2.
        """,
        version: versionText,
        subcommands: [Serve.self, Run.self],
        defaultSubcommand: Serve.self
    )

    /// ArgumentParser's `main`, but a usage error exits 2 (as `volley run`'s do, and as the
    /// docs say) instead of ArgumentParser's 64, so a host checks one code for "bad command
    /// line" whichever subcommand it ran. Help and `--version` still exit 0.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                writeToStandardError("\(fullMessage(for: error))\n")
                exitProcess(2)
            }
            exit(withError: error)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the JSON-RPC protocol on stdin/stdout (the default), or to every host of the machine on a Unix socket.",
        discussion: """
        Logs go to stderr; stdout carries protocol messages only. On stdin EOF all work in \
        flight is finished and answered, then Volley exits 0. SIGTERM/SIGINT cancel all work, \
        answer every pending request, and exit 0.

        With --socket or --shared, Volley is a shared sidecar: any number of hosts connect, \
        each connection its own session (ids, providers, cancel, shutdown), all on one \
        connection pool and one budget per API key. Exits 3 at once when another daemon \
        serves the socket; 2 when its directory is not private (docs/protocol.md, "Shared mode").
        """
    )

    @Option(name: .long, help: ArgumentHelp(
        "Serve on a Unix domain socket at this path (its directory must be yours and 0700; made when missing).",
        valueName: "path"))
    var socket: String?

    @Flag(name: .long, help: ArgumentHelp(
        "Serve on the default socket: $VOLLEY_SOCKET, else $XDG_RUNTIME_DIR/volley/volley.sock, else /tmp/volley-<uid>/volley.sock."))
    var shared = false

    @Option(name: .long, help: ArgumentHelp(
        "With --socket or --shared: exit once no host has been connected for this many seconds.",
        valueName: "seconds"))
    var idleExit: Double?

    @Option(name: .long, help: ArgumentHelp(
        "A JSON file {\"providers\": {...}, \"default_provider\": \"...\"}.",
        discussion: "Without it: mock always, openai if OPENAI_API_KEY is set, anthropic if ANTHROPIC_API_KEY is set.",
        valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp(
        "Share rate limits with every sidecar using this Redis (redis://[user:password@]host:port/db).",
        discussion: "Also VOLLEY_REDIS_URL, or shared_limits in --config; the password may come from VOLLEY_REDIS_PASSWORD.",
        valueName: "url"))
    var redisURL: String?

    @Option(name: .long, help: ArgumentHelp(
        "A pricing file for outcomes' cost_usd: {\"date\", \"models\": {NAME: {input, output, cached_input}}} in dollars per million tokens.",
        discussion: "It adds to (or, with \"replace\": true, replaces) the dated table Volley ships.", valueName: "file"))
    var pricing: String?

    @Option(name: .long, help: "Longest accepted input line, in bytes; longer lines get error -32010.")
    var maxLineBytes: Int = 16 * 1024 * 1024

    @Option(name: .long, help: "Most items in one gather/as_completed request.")
    var maxItemsPerBatch: Int = 100_000

    @Option(name: .long, help: "Most items waiting or running across all batches; a batch beyond it gets error -32011.")
    var maxPendingItems: Int = 1_000_000

    @Option(name: .long, help: "Most connections to one host at once.")
    var maxConnectionsPerHost: Int = 32

    // Hidden: for tests of an oversized reply (docs/protocol.md, "Lifecycle"); the default suits every API.
    @Option(name: .long, help: .hidden)
    var maxResponseBytes: Int = Engine.defaultMaxResponseBytes

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "warning"

    @Option(name: .long, help: "Log format on stderr: text or json.")
    var logFormat: String = "text"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard logFormat == "text" || logFormat == "json" else { throw ValidationError("--log-format must be text or json") }
        guard maxLineBytes >= 1024 else { throw ValidationError("--max-line-bytes must be at least 1024") }
        guard maxItemsPerBatch >= 1 else { throw ValidationError("--max-items-per-batch must be at least 1") }
        guard maxPendingItems >= 1 else { throw ValidationError("--max-pending-items must be at least 1") }
        guard maxConnectionsPerHost >= 1 else { throw ValidationError("--max-connections-per-host must be at least 1") }
        guard maxResponseBytes >= 1024 else { throw ValidationError("--max-response-bytes must be at least 1024") }
        if shared, socket != nil { throw ValidationError("--shared and --socket both name the socket: give one") }
        if let idleExit {
            guard socket != nil || shared else { throw ValidationError("--idle-exit needs --socket or --shared") }
            guard idleExit > 0, idleExit.isFinite else { throw ValidationError("--idle-exit must be a positive number of seconds") }
        }
    }

    func run() async throws {
        ignoreSIGPIPE()
        volley_process_setup()  // Done before main; the call keeps it linked.
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "volley")
        let environment = processEnvironment()

        var providers: ProviderSet?
        var configBytes: [UInt8]?
        // What a host that gives `initialize` its environment starts with.
        var providersFor: @Sendable ([String: String]) throws(ConfigError) -> ProviderSet = { ProviderSet.fromEnvironment($0) }
        if let config {
            let bytes: [UInt8]
            do {
                bytes = try readFile(atPath: config)
                providers = try ProviderSet(configFile: bytes, environment: environment)
                configBytes = bytes
            } catch {
                writeToStandardError("volley: \(config): \(error)\n")
                throw ExitCode(2)
            }
            providersFor = { environment throws(ConfigError) in try ProviderSet(configFile: bytes, environment: environment) }
            for warning in providers?.keyWarnings ?? [] { logger.warning("\(config): \(warning)") }
            if let warning = ConfigSecrets.exposureWarning(path: config, bytes: bytes) { logger.warning("\(warning)") }
        }
        let sharedLimits: SharedLimitsSettings?
        do {
            sharedLimits = try SharedLimitsSettings.resolve(configFile: configBytes, redisURL: redisURL, environment: environment)
        } catch {
            writeToStandardError("volley: shared limits: \(error.message)\n")
            throw ExitCode(2)
        }
        if let sharedLimits { logger.info("shared limits in Redis", metadata: ["redis": "\(sharedLimits.url)"]) }
        let prices: Pricing
        do {
            prices = try Pricing.load(path: pricing)
        } catch {
            writeToStandardError("volley: \(error.message)\n")
            throw ExitCode(2)
        }
        let engine: Engine
        do {
            engine = try Engine(maxConnectionsPerHost: maxConnectionsPerHost, maxResponseBytes: maxResponseBytes,
                                environment: environment, providers: providers,
                                onLimitChange: { change in
                logger.notice(change.cause == .learned ? "limits learned from headers" : "limits adapted", metadata: [
                    "limiter": "\(change.limiter)", "cause": "\(change.cause.rawValue)",
                    "rpm_effective": "\(change.rpm.map { String(Int($0.rounded())) } ?? "none")",
                    "tpm_effective": "\(change.tpm.map { String(Int($0.rounded())) } ?? "none")",
                    "concurrency_effective": "\(change.concurrency)",
                ])
            }, logger: logger, sharedLimits: sharedLimits, pricing: prices)
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
        let options = ServerOptions(maxLineBytes: maxLineBytes, maxItemsPerBatch: maxItemsPerBatch,
                                    maxPendingItems: maxPendingItems, version: volleyVersion, providersFor: providersFor)
        let code: Int32
        if let path = socket ?? (shared ? SocketDaemon.defaultPath(environment: environment) : nil) {
            code = await SocketDaemon(engine: engine, options: options, logger: logger, path: path,
                                      idleExitSeconds: idleExit).run()
        } else {
            code = await Server(engine: engine, options: options, logger: logger).run()
        }
        // Stop the transport first: libcurl and OpenSSL must not be in use while exit runs
        // their atexit cleanups (that raced and crashed). Then leave without tearing down
        // threads that may still be parked in read(2).
        await engine.shutdown()
        exitProcess(code)
    }

}
