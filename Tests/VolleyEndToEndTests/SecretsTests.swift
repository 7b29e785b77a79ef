import FakeLLM
import FakeLLMTestSupport
import Testing
import VolleyCore
import VolleyTestSupport

/// API keys never appear in anything the sidecar writes, on any error path, at any log level.
@Suite("Keys never leak", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct SecretsTests {
    static let envSecret = "sk-test-SECRET-0123456789"
    static let inlineSecret = "sk-inline-SECRET-9876543210"

    @Test("error paths with --log-level trace: no key in stdout or stderr", arguments: ["text", "json"])
    func errorPathsDoNotLeakKeys(logFormat: String) async throws {
        // A port nothing listens on: a server's, after it shut down.
        let closed = try await FakeLLMServer.start()
        let closedPort = closed.port
        try await closed.shutdown()

        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(
                arguments: ["--log-level", "trace", "--log-format", logFormat],
                environment: [fakeKeyEnv: Self.envSecret]
            ) { volley in
                var providers = try requireValue(fakeProviders(server).objectValue)
                providers["dead"] = [
                    "kind": "openai", "base_url": .string("http://127.0.0.1:\(closedPort)/v1"),
                    "api_key_env": .string(fakeKeyEnv), "retry": ["max_retries": 0],
                    "timeouts": ["connect": 5],
                ]
                providers["inline"] = [
                    "kind": "openai", "base_url": .string(server.baseURL + "/v1"),
                    "api_key": .string(Self.inlineSecret), "retry": ["max_retries": 0],
                ]
                let configured = try await volley.request("configure", id: "cfg", params: ["providers": .object(providers)])
                #expect(configured["result"] != nil, "\(configured.jsonString)")

                // Malformed configurations that carry a key: -32602, and the key is not quoted.
                let badConfigs: [JSONValue] = [
                    ["kind": "openai", "api_key": .string(Self.inlineSecret), "base_url": "ftp://example.invalid"],
                    ["kind": "openai", "api_key": .string(Self.inlineSecret), "bogus": true],
                    ["kind": "openai", "api_key": .string(Self.inlineSecret), "retry": ["max_retries": -1]],
                    ["kind": "openai", "api_key_env": .string(fakeKeyEnv), "headers": ["authorization": .string("Bearer \(Self.envSecret)\n")]],
                ]
                for (index, bad) in badConfigs.enumerated() {
                    let reply = try await volley.request("configure", id: .string("bad-\(index)"), params: ["providers": ["bad": bad]])
                    #expect(reply.errorCode == -32602, "\(reply.jsonString)")
                }

                let gather = try await volley.request("gather", id: "errors", params: ["requests": [
                    fakeItem(key: "unauthorized", fake: ["status": 401]),
                    fakeItem(key: "refused", provider: "dead"),
                    fakeItem(key: "malformed", fake: ["mode": "malformed"]),
                    fakeItem(key: "quota", fake: ["mode": "insufficient_quota"]),
                    fakeItem(key: "server", fake: ["status": 500]),
                    ["key": "invalid", "provider": "fake", "request": "not an object"],
                    fakeItem(key: "ok"),
                    fakeItem(key: "inline-401", provider: "inline", fake: ["status": 401]),
                    fakeItem(key: "inline-ok", provider: "inline"),
                ]])
                let results = try #require(gather["result"]?["results"]?.arrayValue, "\(gather.jsonString)")
                let kinds = results.map { $0["error"]?["kind"]?.stringValue ?? "ok" }
                #expect(kinds == ["http", "connection", "provider_error", "quota_exceeded", "http", "invalid_request", "ok", "http", "ok"])

                // Request-level errors.
                let unknownProvider = try await volley.request("gather", id: "unknown", params: ["requests": [fakeItem(provider: "nope")]])
                #expect(unknownProvider.errorCode == -32602)
                let failedCall = try await volley.request("call", id: "call-401", params: fakeItem(fake: ["status": 401]))
                #expect(failedCall.errorCode == -32803)
                let badCall = try await volley.request("call", id: "bad-call", params: ["provider": "fake"])
                #expect(badCall.errorCode == -32602)

                // stats reports that keys exist, never what they are.
                let stats = try await volley.request("stats", id: "stats")
                let reported = try requireValue(stats["result"]?["providers"])
                #expect(reported["fake"]?["has_key"] == true)
                #expect(reported["fake"]?["api_key_env"] == .string(fakeKeyEnv))
                #expect(reported["inline"]?["has_key"] == true)
                #expect(reported["inline"]?["api_key"] == nil)
                #expect(reported["dead"]?["has_key"] == true)

                volley.closeStdin()
                #expect(try await volley.waitForExit() == .exited(0))

                let stdoutBytes: [UInt8] = volley.stdout.lines.flatMap { line -> [UInt8] in line.raw + [0x0A] }
                let stderrBytes = volley.stderrBytes
                #expect(!stderrBytes.isEmpty, "trace logging wrote something to check")
                for secret in [Self.envSecret, Self.inlineSecret, "SECRET-0123456789", "SECRET-9876543210"] {
                    #expect(!contains(stdoutBytes, secret), "stdout leaks \(secret)")
                    #expect(!contains(stderrBytes, secret), "stderr leaks \(secret)")
                }
            }
        }
    }

    @Test("a provider given its key inline: stats shows has_key true and no key")
    func inlineKeyInStats() async throws {
        try await withVolley { volley in
            let configured = try await volley.request("configure", id: 1, params: ["providers": [
                "inline": ["kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": .string(Self.inlineSecret)],
                "nokey": ["kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "VOLLEY_E2E_UNSET_KEY"],
            ]])
            #expect(configured["result"]?["providers"] == ["inline", "mock", "nokey"])
            let stats = try await volley.request("stats", id: 2)
            let providers = try requireValue(stats["result"]?["providers"])
            #expect(providers["inline"]?["has_key"] == true)
            #expect(providers["nokey"]?["has_key"] == false)
            #expect(providers["nokey"]?["api_key_env"] == "VOLLEY_E2E_UNSET_KEY")
            let initialize = try await volley.request("initialize", id: 3)
            volley.closeStdin()
            #expect(try await volley.waitForExit() == .exited(0))
            for line in volley.stdout.lines {
                #expect(!line.text.contains(Self.inlineSecret), "leaked in \(line.text)")
            }
            #expect(!volley.stderrText.contains(Self.inlineSecret))
            #expect(initialize["result"] != nil)
        }
    }
}

/// Whether `haystack` contains the UTF-8 bytes of `needle`.
func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
    let pattern = Array(needle.utf8)
    guard !pattern.isEmpty, haystack.count >= pattern.count else { return false }
    for start in 0...(haystack.count - pattern.count) where haystack[start] == pattern[0] {
        if haystack[start..<(start + pattern.count)].elementsEqual(pattern) { return true }
    }
    return false
}
