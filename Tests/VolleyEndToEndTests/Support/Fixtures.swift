import FakeLLM
import Foundation
import Testing
import VolleyCore
import VolleyTestSupport

// MARK: - Running a sidecar

/// Spawns `volley`, runs `body`, and always cleans up (stdin closed, process SIGKILLed if it is
/// still running). A failure carries the tail of the sidecar's stderr.
func withVolley<T>(
    arguments: [String] = [],
    environment: [String: String] = [:],
    readStdout: Bool = true,
    softOpenFilesLimit: Int? = nil,
    launcher: [String]? = nil,
    _ body: (VolleyProcess) async throws -> T
) async throws -> T {
    await sidecarSlots.acquire()
    defer { sidecarSlots.release() }
    let volley = try await spawnOffThePool(arguments: arguments, environment: environment, readStdout: readStdout,
                                           softOpenFilesLimit: softOpenFilesLimit, launcher: launcher)
    defer { volley.terminate() }
    do {
        return try await body(volley)
    } catch {
        let stderr = volley.stderrText
        throw HarnessError("\(error)\n--- volley stderr (last 2000 chars) ---\n\(stderr.suffix(2000))")
    }
}

/// How many sidecars run at once. The whole package's tests share one process and two cores:
/// dozens of sidecars starting together starved other suites' timing-sensitive tests.
let sidecarSlots = AsyncSemaphore(count: 3)

/// Spawns on a thread of its own: `posix_spawn` blocks its caller while the child closes every
/// inherited descriptor (~20 ms here), and dozens of spawns on Swift concurrency's two pool
/// threads starved other suites' timing-sensitive tests running in the same process.
private func spawnOffThePool(arguments: [String], environment: [String: String], readStdout: Bool,
                             softOpenFilesLimit: Int?, launcher: [String]?) async throws -> VolleyProcess {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<VolleyProcess, any Error>) in
        Thread.detachNewThread {
            do {
                continuation.resume(returning: try VolleyProcess(arguments: arguments, environment: environment, readStdout: readStdout,
                                                                 softOpenFilesLimit: softOpenFilesLimit,
                                                                 launcher: launcher))
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}

/// For `withFakeServer`: the sidecar tests send thousands of requests and never read the
/// server's per-request records, which `stats()` would copy on every read.
func withoutRequestRecords(_ configuration: inout FakeLLMConfiguration) {
    configuration.recordRequests = false
}

/// Reads the lines of a sidecar one by one, in order: each step's reply is awaited before the
/// next step is sent, so "the next line" is unambiguous.
struct Cursor {
    let volley: VolleyProcess
    private(set) var position = 0

    init(_ volley: VolleyProcess) {
        self.volley = volley
    }

    /// The next line, parsed.
    mutating func next(timeout: Double = defaultTimeoutSeconds) async throws -> JSONValue {
        let value = try await volley.line(at: position, timeout: timeout)
        position += 1
        return value
    }

    /// Sends `line` (raw text) and returns the next line.
    mutating func exchange(_ line: String) async throws -> JSONValue {
        try volley.sendLine(line)
        return try await next()
    }
}

// MARK: - Items and config

/// An environment variable the sidecar reads the fake server's key from.
let fakeKeyEnv = "FAKE_KEY"

/// A `providers` object with one openai provider, `name`, pointing at `server`, no retries.
func fakeProviders(_ server: FakeLLMServer, name: String = "fake", extra: JSONObject = [:]) -> JSONValue {
    var provider: JSONObject = [
        "kind": "openai",
        "base_url": .string(server.baseURL + "/v1"),
        "api_key_env": .string(fakeKeyEnv),
        "retry": ["max_retries": 0],
    ]
    for (key, value) in extra { provider[key] = value }
    return [name: .object(provider)]
}

/// Configures the sidecar with `fakeProviders(server)` and checks it took.
func configureFake(_ volley: VolleyProcess, _ server: FakeLLMServer, id: JSONValue = "configure") async throws {
    let reply = try await volley.request("configure", id: id, params: ["providers": fakeProviders(server)])
    guard reply["result"]?["providers"]?.arrayValue?.contains("fake") == true else {
        throw HarnessError("configure failed: \(reply.jsonString)")
    }
}

/// An item for the fake server; `fake` scripts its answer (`status`, `mode`, `latency_ms`, ...).
func fakeItem(key: String? = nil, provider: String = "fake", fake: JSONObject = [:]) -> JSONValue {
    var request: JSONObject = [
        "model": "gpt-4o-mini",
        "messages": [["role": "user", "content": "hello"]],
        "max_tokens": 16,
    ]
    if !fake.isEmpty { request["fake"] = .object(fake) }
    var item: JSONObject = ["provider": .string(provider), "request": .object(request)]
    if let key { item["key"] = .string(key) }
    return .object(item)
}

/// An item for the built-in mock provider; `mock` scripts it (`latency_ms`, `fail`, ...).
func mockItem(key: String? = nil, content: String = "hi", mock: JSONObject = [:], extra: JSONObject = [:]) -> JSONValue {
    var request: JSONObject = ["messages": [["role": "user", "content": .string(content)]]]
    if !mock.isEmpty { request["mock"] = .object(mock) }
    var item: JSONObject = ["provider": "mock", "request": .object(request)]
    if let key { item["key"] = .string(key) }
    for (name, value) in extra { item[name] = value }
    return .object(item)
}

/// `count` mock items with the given latency.
func mockItems(_ count: Int, latencyMs: Int) -> JSONValue {
    .array((0..<count).map { mockItem(key: "m\($0)", mock: ["latency_ms": JSONValue(latencyMs)]) })
}

// MARK: - Reading replies

extension JSONValue {
    /// `error.code` of a response.
    var errorCode: Int? { self["error"]?["code"]?.intValue }
    /// `error.data` of a response.
    var errorData: JSONValue? { self["error"]?["data"] }
    /// Whether this line is a notification of `method` (no id).
    func isNotification(_ method: String) -> Bool {
        self["method"]?.stringValue == method && self["id"] == nil
    }
}
