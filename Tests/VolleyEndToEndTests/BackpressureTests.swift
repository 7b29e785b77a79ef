import Testing
import VolleyCore
import VolleyTestSupport

/// A host that stops reading stdout: the sidecar's memory stays bounded (the writer's queue
/// stops at its 8 MiB high watermark, then it stops admitting items), nothing is dropped.
@Suite("Backpressure from a host that stops reading", .timeLimit(.minutes(2)), .tags(.endToEnd))
struct BackpressureTests {
    static let total = 60_000
    /// RSS bound while blocked; measured ~80 MB on this machine (the parsed 3.4 MB request included).
    static let rssBoundKiB = 150 * 1024

    /// One RSS + CPU sample of the sidecar.
    struct Sample {
        let rssKiB: Int
        let cpuTicks: Int
        let writerBlocked: Bool?
        let asleep: Bool?
    }

    static func sample(_ volley: VolleyProcess) throws -> Sample {
        Sample(rssKiB: try requireValue(volley.residentKiB(), "VmRSS"),
               cpuTicks: try requireValue(volley.cpuTicks(), "CPU ticks"),
               writerBlocked: volley.isBlockedWritingStdout(),
               asleep: volley.allThreadsSleeping())
    }

    @Test("as_completed of 60,000 items while stdout is not read: RSS bounded and flat, then every item arrives")
    func hostStopsReading() async throws {
        try await withVolley(readStdout: false) { volley in
            try volley.send(rpcRequest("configure", id: "cfg", params: ["providers": ["mock": ["kind": "mock", "latency_ms": 0]]]))
            let item = #"{"key":"x","provider":"mock","request":{"messages":[{"role":"user","content":"x"}]}}"#
            let items = [String](repeating: item, count: Self.total).joined(separator: ",")
            try volley.sendLine(#"{"jsonrpc":"2.0","id":"flood","method":"as_completed","params":{"requests":[\#(items)]}}"#)

            // Sample until the sidecar is stuck: its writer blocked on the full pipe, every thread
            // asleep (none running or runnable, so a busy machine cannot fake it), and neither its
            // CPU time nor its RSS moving, over the last `window` samples. The sleeps only pace
            // the sampling; nothing is decided by how long they last.
            let window = 10
            var samples: [Sample] = []
            var stuck = false
            for _ in 0..<3_000 where !stuck {
                try await Task.sleep(for: .milliseconds(20))
                samples.append(try Self.sample(volley))
                guard samples.count >= window else { continue }
                let recent = samples.suffix(window)
                let cpuFlat = recent.allSatisfy { $0.cpuTicks == recent.first?.cpuTicks }
                let rssFlat = (recent.map(\.rssKiB).max() ?? 0) - (recent.map(\.rssKiB).min() ?? 0) <= 1024
                let writerBlocked = recent.allSatisfy { $0.writerBlocked != false }
                let asleep = recent.allSatisfy { $0.asleep != false }
                stuck = cpuFlat && rssFlat && writerBlocked && asleep
            }
            #expect(stuck, "the sidecar never settled; last samples: \(samples.suffix(5))")
            let peak = samples.map(\.rssKiB).max() ?? 0
            #expect(peak < Self.rssBoundKiB, "peak RSS \(peak) KiB while the host was not reading")

            // It stays put: more samples, no growth.
            var later: [Sample] = []
            for _ in 0..<window {
                try await Task.sleep(for: .milliseconds(20))
                later.append(try Self.sample(volley))
            }
            let settled = samples.last?.rssKiB ?? 0
            #expect((later.map(\.rssKiB).max() ?? 0) - settled <= 2048, "RSS kept growing: \(settled) → \(later.map(\.rssKiB))")

            // How far it got before stopping: asked now, answered once the host reads again.
            try volley.send(rpcRequest("stats", id: "while-blocked"))

            volley.startReadingStdout()
            let responseIndex = try await volley.responseIndex(to: "flood", timeout: 90)
            let statsReply = try await volley.response(to: "while-blocked")
            let completedWhileBlocked = try requireValue(statsReply["result"]?["completed"]?.intValue, "stats.completed")
            #expect(completedWhileBlocked < Self.total, "admission paused: not every item ran while the host was not reading")

            let lines = volley.stdout.lines
            let response = try requireValue(lines[responseIndex].value)
            #expect(response["result"]?["results"] == [])
            #expect(response["result"]?["stats"]?["succeeded"]?.intValue == Self.total)
            var seen = [Int](repeating: 0, count: Self.total)
            var itemCount = 0
            for (position, line) in lines[..<responseIndex].enumerated() {
                if position % 2_000 == 0 { await Task.yield() }  // long loop: let other tests' tasks run
                guard let value = line.value, value.isNotification("item"), value["params"]?["request"] == "flood" else { continue }
                itemCount += 1
                if let index = value["params"]?["index"]?.intValue, seen.indices.contains(index) { seen[index] += 1 }
            }
            #expect(itemCount == Self.total)
            #expect(seen.allSatisfy { $0 == 1 }, "each index exactly once")
            #expect(!lines[(responseIndex + 1)...].contains { $0.value?.isNotification("item") == true }, "no item after the response")

            volley.closeStdin()
            #expect(try await volley.waitForExit() == .exited(0))
            #expect(volley.stdout.unparseableLines.isEmpty)
        }
    }
}
