import FakeLLM
import FakeLLMTestSupport
import Foundation
import Testing
import VolleyCore
import VolleyTestSupport
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Limits kept in Redis (issue 22): separate sidecars, as on separate machines, share one
/// budget per key; without Redis they fall back as configured, and come back when it does.
@Suite("Shared limits in Redis", .timeLimit(.minutes(2)), .tags(.endToEnd))
struct SharedLimitsTests {
    static let rpm = 3_000
    static let perSidecar = 100

    /// What one sidecar sends: `count` items to the fake server on one key, under `limits`.
    private func run(_ volley: VolleyProcess, _ server: FakeLLMServer, limits: JSONValue, count: Int) async throws -> JSONValue {
        let providers = fakeProviders(server, extra: ["api_key": "sk-one-key-for-all", "limits": limits, "retry": ["max_retries": 10]])
        _ = try await volley.request("configure", id: "c", params: ["providers": providers])
        let items = JSONValue.array((0..<count).map { fakeItem(key: "k\($0)") })
        return try await volley.request("gather", id: 1, params: ["requests": items], timeout: 60)
    }

    private func strictServer(_ configuration: inout FakeLLMConfiguration) {
        configuration.requestsPerMinute = Self.rpm
        configuration.requestBurst = 2
        withoutRequestRecords(&configuration)
    }

    /// Three sidecars sending `count` items each at once; returns the wall time.
    private func threeSidecars(_ server: FakeLLMServer, arguments: [String], limits: JSONValue = ["rpm": .number(JSONNumber(rpm))],
                               count: Int = perSidecar) async throws -> Double {
        let sidecars = try (0..<3).map { _ in try VolleyProcess(arguments: arguments) }
        defer { for sidecar in sidecars { sidecar.terminate() } }
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: JSONValue.self) { group in
            for sidecar in sidecars { group.addTask { try await run(sidecar, server, limits: limits, count: count) } }
            for try await reply in group {
                #expect(reply["result"]?["stats"]?["succeeded"]?.intValue == count, "\(reply.jsonString.prefix(300))")
            }
        }
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    @Test("3 sidecars on one Redis, each configured at the server's limit R: no 429, within 15% of the ideal; without Redis, 429s")
    func threeSidecarsShareOneBudget() async throws {
        let redis = try RedisProcess()
        let ideal = Double(3 * Self.perSidecar) / (Double(Self.rpm) / 60)
        try await withFakeServer(strictServer) { server in
            let shared = try await threeSidecars(server, arguments: ["--redis-url", redis.url])
            let withRedis = server.stats()
            print("shared limits: 3 sidecars x \(Self.perSidecar) at \(Self.rpm) rpm: \(shared) s (ideal \(ideal) s), \(withRedis.rateLimited) 429s")
            #expect(withRedis.rateLimited == 0)
            #expect(shared <= ideal * 1.15, "\(shared) s against an ideal of \(ideal) s")
            server.resetStats()
            // Three without Redis: three budgets against one limit (fewer items: the 429s come
            // at once, and the adaptive limits then take their time to settle).
            let local = try await threeSidecars(server, arguments: [], count: 60)
            let alone = server.stats()
            print("local limits: 3 sidecars x 60: \(local) s, \(alone.rateLimited) 429s")
            #expect(alone.rateLimited >= 5, "three sidecars each at R must be refused by a server allowing R (0 with Redis)")
        }
    }

    @Test("3 sidecars at 200 a second: each holds a lease of permits, and together they still stay within the limit")
    func threeSidecarsWithLeases() async throws {
        let redis = try RedisProcess()
        let rpm = 12_000, count = 200
        // Each sidecar's default burst at 12,000 rpm is 4: it leases 2 permits at a time (half
        // the burst). The server holds 8, as a real one holds more than a client assumes: a
        // request that arrives late (two cores, four processes) leaves the server's bucket
        // emptier than Redis's, and with no margin at all even lease-free permits draw 429s.
        try await withFakeServer({ configuration in
            configuration.requestsPerMinute = rpm
            configuration.requestBurst = 8
            withoutRequestRecords(&configuration)
        }) { server in
            let ideal = Double(3 * count - 4) / (Double(rpm) / 60)
            let shared = try await threeSidecars(server, arguments: ["--redis-url", redis.url],
                                                 limits: ["rpm": .number(JSONNumber(rpm))], count: count)
            let stats = server.stats()
            print("shared limits with leases: 3 sidecars x \(count) at \(rpm) rpm: \(shared) s (ideal \(ideal) s), \(stats.rateLimited) 429s")
            #expect(stats.rateLimited == 0)
            #expect(shared <= ideal * 1.15 + 0.5, "\(shared) s against an ideal of \(ideal) s")
        }
    }

    @Test("3 sidecars on one Redis against nginx's limit_req (a limiter we did not write): no refusal")
    func threeSidecarsUnderNginxLimitReq() async throws {
        let redis = try RedisProcess()
        // 25 a second, 2 more at once after idle, excess refused with 429 at once (nodelay).
        let nginx = try await NginxLimitServer.start(limit: .rate(perSecond: 25, burst: 2))
        let providers: JSONValue = ["gw": ["kind": "openai", "base_url": .string(nginx.baseURL), "api_key": "sk-one-key-for-all",
                                           "limits": ["rpm": 1_500], "retry": ["max_retries": 10]]]
        let items = JSONValue.array((0..<50).map { index in
            ["key": .string("k\(index)"), "provider": "gw",
             "request": ["model": "gpt-4o-mini", "messages": [["role": "user", "content": "hello"]], "max_tokens": 4]]
        })
        let sidecars = try (0..<3).map { _ in try VolleyProcess(arguments: ["--redis-url", redis.url]) }
        defer { for sidecar in sidecars { sidecar.terminate() } }
        for sidecar in sidecars { _ = try await sidecar.request("configure", id: "c", params: ["providers": providers]) }
        try await withThrowingTaskGroup(of: JSONValue.self) { group in
            for sidecar in sidecars { group.addTask { try await sidecar.request("gather", id: 1, params: ["requests": items], timeout: 60) } }
            for try await reply in group { #expect(reply["result"]?["stats"]?["succeeded"] == 50, "\(reply.jsonString.prefix(300))") }
        }
        let log = try nginx.accessLog()
        await nginx.shutdown()
        print("shared limits under nginx limit_req 25/s: \(log.accepted) accepted, \(log.rateLimited) refused")
        #expect(log.accepted == 150)
        #expect(log.rateLimited == 0, "one budget across the three: nginx never refuses")
    }

    @Test("Another machine's 429 pauses this sidecar until the same end and cuts its rate, as its own 429 would",
          arguments: [600, nil] as [Int?])
    func anotherMachinesRefusalIsLearned(rpm: Int?) async throws {
        let redis = try RedisProcess()
        try await withFakeServer { server in
            // With no rate configured there is no bucket to share, but the cooldown still is.
            let limits: JSONValue = rpm.map { ["rpm": .number(JSONNumber($0))] } ?? [:]
            let providers = fakeProviders(server, extra: ["api_key": "sk-one-key-for-all", "limits": limits])
            try await withVolley(arguments: ["--redis-url", redis.url]) { first in
                try await withVolley(arguments: ["--redis-url", redis.url]) { second in
                    for volley in [first, second] { _ = try await volley.request("configure", id: "c", params: ["providers": providers]) }
                    // Both have sent once, so both have measured what the server accepts.
                    for volley in [first, second] { _ = try await volley.request("gather", id: "warm", params: ["requests": [fakeItem()]]) }
                    // Not a synchronisation: permits leased by the warm-up (a limiter with no rate
                    // leases some) are used only within their 50 ms lifetime, then Redis is asked.
                    try await Task.sleep(for: .milliseconds(60))
                    let refusedAt = ContinuousClock.now
                    let refused = try await first.request("gather", id: 1, params: [
                        "requests": [fakeItem(key: "refused", fake: ["status": 429, "retry_after": "3"])],
                    ])
                    #expect(refused["result"]?["results"]?[0]?["error"]?["kind"] == "rate_limited", "\(refused.jsonString.prefix(300))")
                    // The second sidecar never got a 429, yet it learns of it from Redis.
                    try second.send(rpcRequest("gather", id: 2, params: ["requests": [fakeItem(key: "a"), fakeItem(key: "b")]]))
                    var limiter: JSONValue?
                    let learned = await waitUntil("the second sidecar's limiter cools down", timeout: .seconds(3)) {
                        let stats = try? await second.request("stats", id: "s")
                        limiter = stats?["result"]?["limiters"]?.objectValue?.values.first
                        return (limiter?["cooldown_ms"]?.doubleValue ?? 0) > 1_000
                    }
                    #expect(learned, "\(limiter?.jsonString ?? "no limiter")")
                    let cut = try #require(limiter?["rpm_effective"]?.doubleValue, "a rate in force: \(limiter?.jsonString ?? "")")
                    #expect(cut < Double(rpm ?? .max), "its rate was cut: \(limiter?.jsonString ?? "")")
                    let reply = try await second.response(to: 2, timeout: 20)
                    let elapsed = ContinuousClock.now - refusedAt
                    #expect(reply["result"]?["stats"]?["succeeded"] == 2, "\(reply.jsonString.prefix(300))")
                    #expect(elapsed >= .seconds(2.9), "nothing sent before the shared cooldown ended: \(elapsed)")
                    #expect(server.stats().rateLimited == 1, "only the first sidecar's request was refused")
                    #expect(try await second.request("stats", id: "t")["result"]?["rate_limited"] == 0)
                }
            }
        }
    }

    @Test("Redis killed mid-run: every item ends once, on local limits, degraded and logged; back to shared when Redis is")
    func redisKilledMidRun() async throws {
        let redis = try RedisProcess()
        try await withFakeServer(strictServer) { server in
            try await withVolley(arguments: ["--redis-url", redis.url, "--log-level", "info"]) { volley in
                let providers = fakeProviders(server, extra: ["api_key": "sk-k", "limits": ["rpm": .number(JSONNumber(Self.rpm))],
                                                              "retry": ["max_retries": 10]])
                _ = try await volley.request("configure", id: "c", params: ["providers": providers])
                #expect(try await volley.request("stats", id: "s0")["result"]?["shared"] == "on")
                let items = JSONValue.array((0..<150).map { fakeItem(key: "k\($0)") })
                try volley.send(rpcRequest("gather", id: 1, params: ["requests": items]))
                _ = try await server.waitForStats { $0.requests >= 30 }
                redis.kill()
                let reply = try await volley.response(to: 1, timeout: 60)
                let results = reply["result"]?["results"]?.arrayValue ?? []
                #expect(results.count == 150)
                #expect(results.allSatisfy { $0["ok"] == true }, "every item ends, and well")
                #expect(Set(results.compactMap { $0["key"]?.stringValue }).count == 150, "each exactly once")
                #expect(server.stats().responsesCompleted - server.stats().rateLimited == 150, "none paid twice")
                #expect(try await volley.request("stats", id: "s1")["result"]?["shared"] == "degraded")
                #expect(volley.stderrText.components(separatedBy: "is unavailable").count == 2, "logged once: \(volley.stderrText.suffix(600))")
                #expect(volley.stderrText.contains("going on with local limits at 50%"))
                // The day budgets' worker (costs of priced calls go to Redis) says so once too.
                #expect(volley.stderrText.components(separatedBy: "shared budgets: Redis at").count == 2, "\(volley.stderrText.suffix(600))")
                // Redis is back on its port: shared again within a few seconds.
                let again = try RedisProcess(port: redis.port)
                defer { again.stop() }
                let back = await waitUntil("the sidecar uses Redis again", timeout: .seconds(10)) {
                    _ = try? await volley.request("gather", id: "g", params: ["requests": [fakeItem(key: "after")]])
                    return (try? await volley.request("stats", id: "s2"))?["result"]?["shared"] == "on"
                }
                #expect(back)
            }
        }
    }

    @Test("on_unavailable fail: items end shared_limits_unavailable and no request is sent")
    func failModeSendsNothing() async throws {
        let port = try TestTools.freePort()
        try await withFakeServer { server in
            try await withPrivateDirectory { directory in
                let config = "\(directory)/config.json"
                let file: JSONValue = ["shared_limits": ["redis_url": .string("redis://127.0.0.1:\(port)"), "on_unavailable": "fail"]]
                #expect(FileManager.default.createFile(atPath: config, contents: Data(file.jsonBytes)))
                try await withVolley(arguments: ["--config", config]) { volley in
                    let providers = fakeProviders(server, extra: ["api_key": "sk-k", "limits": ["rpm": 600]])
                    _ = try await volley.request("configure", id: "c", params: ["providers": providers])
                    let reply = try await volley.request("gather", id: 1, params: ["requests": [fakeItem(key: "a"), fakeItem(key: "b")]])
                    let results = reply["result"]?["results"]?.arrayValue ?? []
                    #expect(results.map { $0["error"]?["kind"] } == ["shared_limits_unavailable", "shared_limits_unavailable"],
                            "\(reply.jsonString.prefix(400))")
                    #expect(server.stats().requests == 0)
                    #expect(try await volley.request("stats", id: "s")["result"]?["shared"] == "degraded")
                }
            }
        }
    }

    @Test("rediss:// is refused at start with the way out; a password never reaches the output")
    func tlsAndPasswords() async throws {
        let tls = try VolleyProcess(arguments: ["--redis-url", "rediss://:topsecret@redis.example.com:6380"])
        #expect(try await tls.waitForExit() == .exited(2))
        #expect(tls.stderrText.contains("local TLS tunnel"))
        #expect(!tls.stderrText.contains("topsecret"))
        let redis = try RedisProcess(password: "hunter2-redis")
        try await withVolley(arguments: ["--redis-url", redis.url, "--log-level", "debug"]) { volley in
            let stats = try await volley.request("stats", id: 1)
            #expect(stats["result"]?["shared"] == "on")
            let gathered = try await volley.request("gather", id: 2, params: ["requests": mockItems(2, latencyMs: 1)])
            #expect(gathered["result"] != nil)
            #expect(!volley.stderrText.contains("hunter2-redis"))
            #expect(volley.stderrText.contains(":***@"), "the URL is logged with the password hidden")
        }
    }
}
