import Foundation
import VolleySystem

/// A real nginx on 127.0.0.1 (plain HTTP/1.1, a free port) that answers
/// `POST /v1/chat/completions` with a fixed OpenAI `chat.completion` and rate-limits the way API
/// gateways do, with nginx's own `limit_req` / `limit_conn`: to test the engine's adaptive
/// limiter against limits it did not write itself.
///
/// Accepted requests wait `latencyMs` (the echo module's `echo_sleep`) and get 200 with
/// `completionBody`. Limited ones get 429 with `rateLimitedBody` at once, with
/// `Retry-After: N` when `retryAfterSeconds` is set and bare otherwise (no `Retry-After`, no
/// `x-ratelimit-*`). Any other method on that path gets 405, any other path 404.
///
/// nginx semantics, measured with this configuration (nginx 1.22.1, Debian):
/// - `.rate(perSecond: 10, burst: 2)` (`limit_req ... burst=2 nodelay`): after idle, 10
///   requests at once get 3 × 200 (burst + 1) and 7 × 429; a rejected request does not use up
///   the allowance, and one more is accepted every 1/N s after that (100 ms here). The bucket
///   is kept in milliseconds, so "at once" means within 1/N s of the first.
/// - `.inFlight(3)` (`limit_conn conn 3`): 6 concurrent requests held 300 ms get 3 × 200 and
///   3 × 429: a request is refused only while 3 others are in progress (it is the 4th or
///   later), and at most 3 are ever accepted at once. nginx counts connections
///   that have a request being processed, so this is a limit on in-flight requests for
///   HTTP/1.1 clients (one connection per in-flight request); idle keep-alive connections do
///   not count, and a 429 is answered before the latency.
/// - `burst=0` is a configuration error in nginx; `.rate(perSecond:burst: 0)` leaves it out.
/// - 1,500 requests at once (1,500 connections, latency 1.5 s) are all accepted and overlap.
/// - Every request, 200 or 429, is one line of the access log (`accessLog()`).
///
/// Needs nginx and its echo module (Debian's nginx-light and libnginx-mod-http-echo;
/// scripts/install-deps --test installs both). Start it with `start`, stop it with `shutdown`.
public final class NginxLimitServer: Sendable {
    /// Which gateway limit nginx enforces, per client address (all tests are 127.0.0.1).
    public enum Limit: Sendable, Hashable {
        /// No limit: every request is accepted.
        case none
        /// `limit_req` at `perSecond` requests per second (at least 1), with `burst` more
        /// accepted at once after idle (0 for none), `nodelay` (excess requests are refused,
        /// not queued).
        case rate(perSecond: Int, burst: Int)
        /// `limit_conn`: at most this many requests (connections with a request in progress)
        /// at once; the next one gets 429.
        case inFlight(Int)
    }

    /// The body of every accepted request.
    public static let completionBody = #"{"id":"chatcmpl-nginx","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#
    /// The body of every 429.
    public static let rateLimitedBody = #"{"error":{"message":"Rate limit exceeded","type":"requests","code":"rate_limit_exceeded"}}"#
    /// Where Debian's libnginx-mod-http-echo puts the module.
    public static let echoModulePath = "/usr/lib/nginx/modules/ngx_http_echo_module.so"

    public let limit: Limit
    /// How long nginx holds an accepted request before answering, in milliseconds.
    public let latencyMs: Int
    /// The `Retry-After` of every 429, in seconds; nil sends none.
    public let retryAfterSeconds: Int?
    public var port: Int { nginx.port }
    /// `http://127.0.0.1:PORT/v1`: append `/chat/completions`.
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    private let nginx: NginxProcess
    /// Set by `shutdown()`: the log as it was when nginx had stopped (its directory is gone).
    private let finalLog = Locked<Result<NginxAccessLog, any Error>?>(nil)

    private var accessLogPath: String { "\(nginx.directory)/logs/access.log" }

    /// Starts nginx on a thread of its own (it blocks until nginx listens).
    /// - Parameters:
    ///   - latencyMs: the wait before answering an accepted request.
    ///   - retryAfterSeconds: the `Retry-After` of 429s; nil for bare 429s.
    /// - Throws: `NginxProcess.Failure` (nginx or the echo module missing, nginx not starting).
    public static func start(limit: Limit = .none, latencyMs: Int = 0, retryAfterSeconds: Int? = nil) async throws -> NginxLimitServer {
        try await TestTools.onThread {
            try NginxLimitServer(limit: limit, latencyMs: latencyMs, retryAfterSeconds: retryAfterSeconds)
        }
    }

    private init(limit: Limit, latencyMs: Int, retryAfterSeconds: Int?) throws {
        if case .rate(let perSecond, let burst) = limit { precondition(perSecond >= 1 && burst >= 0, "rate needs perSecond >= 1, burst >= 0") }
        if case .inFlight(let most) = limit { precondition(most >= 1, "inFlight needs at least 1") }
        precondition(latencyMs >= 0 && (retryAfterSeconds ?? 0) >= 0)
        guard FileManager.default.fileExists(atPath: Self.echoModulePath) else {
            throw NginxProcess.Failure.missingFile(Self.echoModulePath, package: "libnginx-mod-http-echo")
        }
        self.limit = limit
        self.latencyMs = latencyMs
        self.retryAfterSeconds = retryAfterSeconds
        nginx = try NginxProcess { layout in
            Self.conf(layout, limit: limit, latencyMs: latencyMs, retryAfterSeconds: retryAfterSeconds)
        }
    }

    /// The access log so far, or, after `shutdown()`, all of it.
    ///
    /// nginx writes a request's line right after sending its last byte, so while it runs the
    /// line of a response the client has just received may be a moment late: for exact counts,
    /// read it after `shutdown()`. Blocking (a small file read).
    /// - Throws: a file error, or `NginxAccessLog.ParseError`.
    public func accessLog() throws -> NginxAccessLog {
        try finalLog.withLock { final in
            if let final { return try final.get() }
            return try readAccessLog()
        }
    }

    /// nginx's error log and stderr (`limit_req` / `limit_conn` log each refusal there), for
    /// failure messages; empty after `shutdown()`.
    public func nginxLogs() -> String { nginx.logs() }

    /// Stops nginx, keeps the final access log for `accessLog()`, and removes the temporary
    /// directory; on a thread of its own. Idempotent.
    public func shutdown() async {
        await TestTools.onThread {
            self.finalLog.withLock { final in
                guard final == nil else { return }
                self.nginx.terminate()
                final = Result { try self.readAccessLog() }
                self.nginx.stop()
            }
        }
    }

    private func readAccessLog() throws -> NginxAccessLog {
        try NginxAccessLog(parsing: String(contentsOfFile: accessLogPath, encoding: .utf8))
    }

    private static func conf(_ layout: NginxProcess.Layout, limit: Limit, latencyMs: Int, retryAfterSeconds: Int?) -> String {
        var zones = ""
        var limits = ""
        switch limit {
        case .none:
            break
        case .rate(let perSecond, let burst):
            zones = "limit_req_zone $binary_remote_addr zone=api:1m rate=\(perSecond)r/s;"
            // nginx refuses "burst=0"; leaving it out means 0.
            let burstParameter = burst > 0 ? " burst=\(burst)" : ""
            limits = "limit_req zone=api\(burstParameter) nodelay; limit_req_status 429;"
        case .inFlight(let most):
            zones = "limit_conn_zone $binary_remote_addr zone=conn:1m;"
            limits = "limit_conn conn \(most); limit_conn_status 429;"
        }
        let sleep = latencyMs > 0 ? "echo_sleep \(Double(latencyMs) / 1000);" : ""
        let retryAfter = retryAfterSeconds.map { "add_header Retry-After \($0) always;" } ?? ""
        return layout.conf(
            http: """
                log_format volley_timing '$status $msec $request_time';
                keepalive_requests 1000000;
                client_max_body_size 16m;
                client_body_buffer_size 1m;
                default_type application/json;
                \(zones)
                server {
                    listen 127.0.0.1:\(layout.port) backlog=2048;
                    access_log \(layout.directory)/logs/access.log volley_timing;
                    error_page 429 = @limited;
                    location = /v1/chat/completions {
                        if ($request_method != POST) { return 405 '{"error":{"message":"Method not allowed","type":"invalid_request_error"}}'; }
                        \(limits)
                        echo_read_request_body;
                        \(sleep)
                        echo '\(completionBody)';
                    }
                    location @limited {
                        \(retryAfter)
                        return 429 '\(rateLimitedBody)';
                    }
                    location / {
                        return 404 '{"error":{"message":"Not found","type":"invalid_request_error"}}';
                    }
                }
            """,
            main: "load_module \(echoModulePath);",
            // 1,500 client connections, the listening socket and some slack.
            workerConnections: 2048
        )
    }
}
