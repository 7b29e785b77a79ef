import FakeLLM
import FakeLLMTestSupport
import Foundation
import Testing
import VolleyCore
import VolleyTestSupport
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Found by the DNS row: libcurl's threaded resolver joined its thread when a transfer ended
/// mid-resolve (its connect timeout, a cancel), so a resolver that answers late (this machine's,
/// at times: 5 s) or never stopped the transport thread and every other transfer with it, and
/// SIGTERM could not end the process. The resolver is made to hang for certain: the sidecar runs
/// in its own user and mount namespaces with a FIFO over `/etc/hosts`, which glibc's lookup
/// opens and waits on forever (no network involved).
@Suite("A resolver that hangs", .timeLimit(.minutes(1)), .tags(.endToEnd),
       .enabled(if: ResolverHang.isAvailable, "needs unprivileged user and mount namespaces (unshare -rm)"))
struct ResolverHangTests {
    @Test("an item whose name never resolves ends by its connect timeout; every other transfer goes on")
    func otherTransfersGoOn() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("volley-resolver-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("hosts").path
        #expect(mkfifo(fifo, 0o600) == 0)
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "k"], launcher: ResolverHang.launcher(hosts: fifo)) { volley in
                var providers = try requireValue(fakeProviders(server).objectValue)
                providers["hangs"] = [
                    "kind": "openai", "base_url": "http://resolver-hangs.invalid/v1", "api_key_env": .string(fakeKeyEnv),
                    "retry": ["max_retries": 0], "timeouts": ["connect": 0.5],
                ]
                let configured = try await volley.request("configure", id: "cfg", params: ["providers": .object(providers)])
                #expect(configured["result"] != nil, "\(configured.jsonString)")
                for round in 0..<2 {
                    // The server's answers come a second after the name lookups began.
                    let items = [fakeItem(key: "lookup", provider: "hangs")] + (1...5).map { fakeItem(key: "k\($0)", fake: ["latency_ms": 1_000]) }
                    let reply = try await volley.request("gather", id: .string("round-\(round)"), params: ["requests": .array(items)], timeout: 20)
                    let results = try #require(reply["result"]?["results"]?.arrayValue, "\(reply.jsonString)")
                    #expect(results.count == items.count)
                    #expect(results.first?["error"]?["kind"] == "connection", "\(reply.jsonString)")
                    #expect(results.first?["error"]?["message"]?.stringValue?.contains("Resolving timed out") == true, "\(reply.jsonString)")
                    #expect(results.dropFirst().allSatisfy { $0["ok"] == true }, "\(reply.jsonString)")
                    for outcome in results {
                        #expect((outcome["latency_ms"]?.doubleValue ?? 0) < 3_000, "nothing waited for the resolver: \(outcome.jsonString)")
                    }
                }
                #expect(try await volley.request("ping", id: "ping")["result"] == [:])
                volley.closeStdin()
                #expect(try await volley.waitForExit() == .exited(0), "exits though a lookup still hangs")
            }
        }
    }
}

/// Running the sidecar where every name lookup hangs.
enum ResolverHang {
    /// `unshare -rm`, then `hosts` (a FIFO nobody writes) bind-mounted over `/etc/hosts`.
    static func launcher(hosts: String) -> [String] {
        ["/usr/bin/unshare", "-rm", "/bin/sh", "-c", "mount --bind '\(hosts)' /etc/hosts && exec \"$0\" \"$@\""]
    }

    /// Whether this machine lets an unprivileged process make those namespaces and mount there.
    static let isAvailable: Bool = {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["-rm", "/bin/sh", "-c", "mount --bind /dev/null /etc/hosts"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.runKeepingReference()
        } catch {
            return false
        }
        process.waitUntilExit()
        return process.terminationReason == .exit && process.terminationStatus == 0
    }()
}
