import Logging
import VolleyHTTP

/// Why an engine could not start: its transport did not.
public struct EngineStartError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(transport: HTTPClientError) {
        description = "cannot start the HTTP transport: \(transport)"
    }
}

extension Engine {
    /// Starts an engine with a transport of its own, for the `volley` process and `volley run`,
    /// so that neither needs to know the transport's types. Stop it with ``shutdown()``.
    ///
    /// - Parameters:
    ///   - maxConnectionsPerHost: the connection pool's bound per origin.
    ///   - maxResponseBytes: the largest buffered response body, in bytes; a larger one fails
    ///     the attempt (`provider_error`) instead of growing memory. Lowered only by tests.
    /// - Throws: when libcurl or the transport thread cannot start.
    public convenience init(maxConnectionsPerHost: Int, maxResponseBytes: Int = Engine.defaultMaxResponseBytes,
                            environment: [String: String], providers: ProviderSet? = nil,
                            onLimitChange: (@Sendable (LimitChange) -> Void)? = nil,
                            logger: Logger = Logger(label: "volley.engine", factory: { _ in SwiftLogNoOpLogHandler() }),
                            sharedLimits: SharedLimitsSettings? = nil, pricing: Pricing = .shipped)
        throws(EngineStartError) {
        let http: HTTPClient
        do {
            http = try HTTPClient(configuration: HTTPClientConfiguration(maxConnectionsPerHost: maxConnectionsPerHost,
                                                                         maxResponseBytes: maxResponseBytes))
        } catch {
            throw EngineStartError(transport: error)
        }
        self.init(http: http, environment: environment, providers: providers, onLimitChange: onLimitChange, logger: logger,
                  sharedLimits: sharedLimits, pricing: pricing)
    }

    /// The transport's default bound on a buffered response body (256 MiB).
    public static let defaultMaxResponseBytes = HTTPClientConfiguration().maxResponseBytes

    /// Stops the transport: transfers still running end, and libcurl is no longer in use when
    /// this returns (so exit's atexit cleanups cannot race it).
    public func shutdown() async {
        shared?.stop()
        sharedBudgets?.stop()
        await http.shutdown()
    }
}
