import FakeLLM
import FakeLLMTestSupport
import Foundation
import Testing
import VolleyCore
import VolleyTestSupport
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Every connection is a descriptor: the sidecar must not be bound by the usual soft limit of
/// open files (1,024 on most systems), and grows its descriptor table before it has threads.
@Suite("Open-files limit", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct DescriptorLimitTests {
    static let connections = 300

    @Test("300 connections at once under a soft limit of 128: the sidecar raises it to the hard limit")
    func manyConnectionsUnderALowSoftLimit() async throws {
        var limit = rlimit()
        try #require(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        // The sidecar can only go up to the hard limit it inherits (ours).
        try #require(limit.rlim_max >= 1024, "this machine's hard limit on open files is \(limit.rlim_max)")

        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(
                arguments: ["--max-connections-per-host", "\(Self.connections)"],
                environment: [fakeKeyEnv: "k"],
                softOpenFilesLimit: 128
            ) { volley in
                // Answered by the sidecar itself: the shell has exec'd it by now.
                let pong = try await volley.request("ping", id: "ping")
                #expect(pong["result"] != nil)
                let limits = try String(contentsOfFile: "/proc/\(volley.pid)/limits", encoding: .utf8)
                let openFiles = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
                let fields = openFiles.split(separator: " ").dropFirst(3)
                #expect(fields.count >= 2 && fields.first == fields.dropFirst().first, "soft limit not raised: \(openFiles)")
                let status = try String(contentsOfFile: "/proc/\(volley.pid)/status", encoding: .utf8)
                let tableSize = status.split(separator: "\n").first { $0.hasPrefix("FDSize:") }
                    .flatMap { Int($0.dropFirst("FDSize:".count).trimmingCharacters(in: .whitespaces)) }
                #expect((tableSize ?? 0) >= min(16_384, Int(limit.rlim_max)), "descriptor table not grown at start: \(tableSize ?? -1)")

                let configured = try await volley.request("configure", id: "cfg", params: [
                    "providers": fakeProviders(server, extra: ["limits": ["concurrency": .number(JSONNumber(Self.connections))]]),
                ])
                #expect(configured["result"] != nil, "\(configured.jsonString)")
                // Each reply is held back long enough for all of them to be in flight together.
                let requests = JSONValue.array((0..<Self.connections).map { fakeItem(key: "c\($0)", fake: ["latency_ms": 1_500]) })
                let reply = try await volley.request("gather", id: "many", params: [
                    "requests": requests, "concurrency": .number(JSONNumber(Self.connections)),
                ])
                let failures = reply["result"]?["results"]?.arrayValue?.filter { $0["ok"] != true } ?? []
                #expect(reply["result"]?["stats"]?["succeeded"] == .number(JSONNumber(Self.connections)),
                        "\(failures.count) failed, e.g. \(failures.first?.jsonString ?? reply.jsonString)")
                #expect(server.stats().peakInFlight == Self.connections)
            }
        }
    }
}
