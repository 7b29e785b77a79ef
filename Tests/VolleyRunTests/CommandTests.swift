#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import VolleyCore
import VolleyRedis
import VolleyTestSupport

/// The built `volley run`, as a user runs it.
@Suite(.tags(.endToEnd)) struct CommandTests {
    @Test func exitsZeroWhenAllSucceedAndOneWhenSomeFail() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("good.jsonl", (0..<10).map { mockItem("g\($0)") }.joined(separator: "\n") + "\n")
        let good = try await VolleyProcess.run(["run", "good.jsonl"], in: dir)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(try outcomes(in: try dir.read("good.out.jsonl")).count == 10)

        try dir.write("mixed.jsonl", mockItem("fine") + "\n{oops\n" + openAILine("c1") + "\n")
        let mixed = try await VolleyProcess.run(["run", "mixed.jsonl", "--provider", "mock", "--output-format", "volley"], in: dir)
        #expect(mixed.status == 1, "\(mixed.stderr)")
        let outcome = byKey(try outcomes(in: try dir.read("mixed.out.jsonl")))
        #expect(outcome["line:2"]?["error"]?["kind"]?.stringValue == "invalid_request")
        #expect(outcome["c1"]?["ok"]?.boolValue == true)
    }

    @Test func aConfigFileHoldingAKeyThatOthersCanReadIsWarnedAboutWithoutTheKey() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let secret = "sk-volley-config-\(UUID().uuidString)"
        let config = try dir.write("config.json", #"{"providers": {"p": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "\#(secret)"}}}"#)
        try dir.write("in.jsonl", mockItem("a") + "\n")
        for (mode, warned) in [(0o644, true), (0o640, true), (0o600, false)] {
            #expect(chmod(config, mode_t(mode)) == 0)
            // volley run, and a sidecar (stdin at its end: it starts, then exits).
            let run = try await VolleyProcess.run(["run", "in.jsonl", "--config", config, "--provider", "mock"], in: dir)
            let serve = try await VolleyProcess.run(["--config", config], in: dir)
            for result in [run, serve] {
                #expect(result.status == 0, "\(result.stderr)")
                #expect(result.stderr.contains("holds an API key (providers.p.api_key) and other users can read it") == warned,
                        "mode \(String(mode, radix: 8)): \(result.stderr)")
                #expect(!result.stderr.contains(secret) && !result.stdout.contains(secret))
            }
            try? FileManager.default.removeItem(atPath: dir.path("in.out.jsonl"))
        }
    }

    @Test(arguments: [
        ["run"],                                          // no input
        ["run", "in.jsonl", "--bogus"],                   // unknown flag
        ["run", "in.jsonl", "--rpm", "abc"],              // not a number
        ["run", "in.jsonl", "--rpm"],                     // no value
        ["run", "in.jsonl", "--concurrency", "0"],        // out of range
        ["run", "in.jsonl", "--timeout", "-3"],
        ["run", "missing.jsonl"],                         // no such file
        ["run", "in.jsonl", "--provider", "nowhere"],     // unknown provider
        ["run", "in.jsonl", "--config", "bad.json"],      // invalid configuration
        ["run", "in.jsonl", "--redis-url", "rediss://h"], // Redis over TLS: refused, never downgraded
        ["run", "in.jsonl", "--pricing", "/nonexistent/pricing.json"],  // a pricing file that is not there
        ["run", "in.jsonl", "--output-format", "csv"],     // no such format
    ])
    func usageAndConfigurationErrorsExitTwo(arguments: [String]) async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("in.jsonl", mockItem("a") + "\n")
        try dir.write("bad.json", #"{"providers":{"x":{"kind":"mock","bogus":1}}}"#)
        let result = try await VolleyProcess.run(arguments, in: dir)
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(!result.stderr.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir.path("in.out.jsonl")))
    }

    @Test func aRunWithRedisKeepsItsLimitsThere() async throws {
        let redis = try RedisProcess()
        let dir = try TempDir()
        defer { dir.cleanup() }
        // A keyed provider with an rpm: a limiter Redis holds (the mock's never is).
        try dir.write("config.json", #"{"providers": {"local": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "sk-x", "limits": {"rpm": 600}, "retry": {"max_retries": 0}, "timeouts": {"connect": 1}}}}"#)
        try dir.write("in.jsonl", #"{"provider": "local", "request": {"model": "m", "messages": [{"role": "user", "content": "hi"}]}}"# + "\n")
        let result = try await VolleyProcess.run(["run", "in.jsonl", "--config", "config.json", "--redis-url", redis.url], in: dir)
        // Nothing listens on port 9: the call fails, but only after taking its permit in Redis.
        #expect(result.status == 1, "\(result.stderr)")
        let keys = try RedisConnection(RedisURL(redis.url)).command(["KEYS", "volley:*"])
        #expect(keys.elements?.count == 1, "the request bucket of the one limiter: \(keys)")
    }

    @Test func helpListsTheOptions() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let result = try await VolleyProcess.run(["run", "--help"], in: dir)
        #expect(result.status == 0)
        for flag in ["--output", "--config", "--provider", "--model", "--rpm", "--tpm", "--concurrency",
                     "--max-retries", "--timeout", "--retry-failed", "--accept-other-provider"] {
            #expect(result.stdout.contains(flag), "\(flag)")
        }
    }

    @Test func progressOnAPipeIsPlainLinesThenTheSummary() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("in.jsonl", (0..<30).map { mockItem("p\($0)", latencyMs: 20) }.joined(separator: "\n") + "\n"
            + mockItem("bad", fail: "http", status: 400) + "\n")
        let result = try await VolleyProcess.run(["run", "in.jsonl", "--concurrency", "4", "--progress-interval", "0.05"], in: dir)
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(!result.stderr.contains("\r"))
        #expect(!result.stderr.contains("\u{1B}"))
        let progress = lines.filter { $0.hasPrefix("volley run: ") && $0.contains(" done, ") }
        #expect(!progress.isEmpty)
        #expect(progress.last?.hasPrefix("volley run: 31/31 done, 1 failed, ") == true, "\(progress)")
        #expect(progress.allSatisfy { $0.contains("/s, tokens ") && $0.contains(" ETA ") })
        #expect(lines.contains { $0.hasPrefix("volley run: finished after ") })
        #expect(lines.contains("  succeeded: 30"))
        #expect(lines.contains("  failed:    1 (http: 1)"))
        #expect(lines.contains { $0.hasPrefix("  retries:   ") })
        #expect(lines.contains { $0.hasPrefix("  tokens:    ") && $0.hasSuffix(" out") })
    }

    @Test func dashWritesOutcomesToStdout() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("in.jsonl", mockItem("a") + "\n" + mockItem("b") + "\n")
        let result = try await VolleyProcess.run(["run", "in.jsonl", "-o", "-"], in: dir)
        #expect(result.status == 0)
        #expect(Set(try outcomes(in: result.stdout).compactMap { $0["key"]?.stringValue }) == ["a", "b"])
        #expect(result.stderr.contains("output:    stdout"))
        #expect(!FileManager.default.fileExists(atPath: dir.path("in.out.jsonl")))
    }

    /// Two runs on one output would both run (and pay for) every line: the second is refused
    /// while the first holds the output's lock, and the first is not disturbed.
    @Test func aSecondRunOnTheSameOutputIsRefused() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("in.jsonl", (0..<2).map { mockItem("slow-\($0)", latencyMs: 4000) }.joined(separator: "\n") + "\n")
        let arguments = ["run", "in.jsonl", "-o", "out.jsonl", "--progress-interval", "0.05"]
        let first = try VolleyProcess.Child(arguments, in: dir, name: "first")
        // The first progress line is printed after the lock is taken. Nothing signals it: poll.
        await waitUntil("the first run's first progress line", timeout: .seconds(60), pollInterval: .milliseconds(20)) {
            first.stderr.contains(" done, ") || !first.process.isRunning
        }
        #expect(first.process.isRunning, "\(first.stderr)")

        let second = try await VolleyProcess.run(arguments, in: dir, name: "second")
        #expect(second.status == 2, "\(second.stderr)")
        #expect(second.stderr.contains(
            "volley run: out.jsonl: another volley run is writing this output"), "\(second.stderr)")
        #expect(!second.stderr.contains("resuming"), "\(second.stderr)")
        #expect(first.process.isRunning, "the first run ended before the second was refused: the test proves nothing")

        try await first.wait()
        #expect(first.process.terminationStatus == 0, "\(first.stderr)")
        let written = try outcomes(in: try dir.read("out.jsonl"))
        #expect(written.count == 2)
        #expect(written.allSatisfy { $0["ok"]?.boolValue == true })

        // Once the first has ended, the lock is free again: a rerun resumes (and skips both).
        let third = try await VolleyProcess.run(arguments, in: dir, name: "third")
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stderr.contains("(+2 done by an earlier run, skipped)"), "\(third.stderr)")
        // Skipping everything takes no time; the last progress line still knows the total.
        let progress = third.stderr.split(separator: "\n").filter { $0.hasPrefix("volley run: ") && $0.contains(" done, ") }
        #expect(progress.last?.hasPrefix("volley run: 2/2 done, ") == true, "\(progress)")
    }

    /// `--model` changed between runs: the lines run again, unless `--accept-other-provider`.
    @Test func aResumeUnderAnotherModelRunsAgainUnlessAccepted() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("in.jsonl", mockItem("m-a") + "\n" + mockItem("m-b") + "\n")
        let first = try await VolleyProcess.run(["run", "in.jsonl", "--model", "one"], in: dir, name: "first")
        #expect(first.status == 0, "\(first.stderr)")
        let rerun = try await VolleyProcess.run(["run", "in.jsonl", "--model", "two"], in: dir, name: "second")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("but not with mock/two, which this run uses"), "\(rerun.stderr)")
        #expect(rerun.stderr.contains("  run again: 2 "), "\(rerun.stderr)")
        let accepted = try await VolleyProcess.run(
            ["run", "in.jsonl", "--model", "three", "--accept-other-provider"], in: dir, name: "third")
        #expect(accepted.status == 0, "\(accepted.stderr)")
        #expect(accepted.stderr.contains("  accepted:  2 "), "\(accepted.stderr)")
        #expect(accepted.stderr.contains("  succeeded: 0 (+2 done by an earlier run, skipped)"), "\(accepted.stderr)")
        let all = try outcomes(in: try dir.read("in.out.jsonl"))
        #expect(all.compactMap { $0["model"]?.stringValue } == ["one", "one", "two", "two"])
    }

    /// SIGKILL in the middle of a run, a torn last line as a crash mid-write could leave, then a
    /// rerun: every key ends with exactly one success, and nothing that finished runs twice.
    @Test func resumeAfterSIGKILL() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let total = 300
        let keys = (0..<total).map { "doc-\($0)" }
        // 300 items of 200 ms, 5 at a time: about 12 s if left alone.
        try dir.write("in.jsonl", keys.map { mockItem($0, latencyMs: 200) }.joined(separator: "\n") + "\n")

        let child = try VolleyProcess.Child(["run", "in.jsonl", "-o", "out.jsonl", "--concurrency", "5"], in: dir, name: "first")
        // Nothing signals a line written to a file: read it every 20 ms.
        await waitUntil("10 outcome lines in out.jsonl before the SIGKILL", timeout: .seconds(60), pollInterval: .milliseconds(20)) {
            let written = (try? dir.read("out.jsonl"))?.filter { $0 == "\n" }.count ?? 0
            return written >= 10 || !child.process.isRunning
        }
        kill(child.process.processIdentifier, SIGKILL)
        try await child.wait()
        #expect(child.process.terminationReason == .uncaughtSignal)
        let before = try outcomes(in: try dir.read("out.jsonl"))
        #expect(before.count >= 10)
        #expect(before.count < total)

        // A crash in the middle of a write would leave this: the rerun must cut it off.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.path("out.jsonl")))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"line":299,"key":"doc-298","ok":tr"#.utf8))
        try handle.close()

        let rerun = try await VolleyProcess.run(
            ["run", "in.jsonl", "-o", "out.jsonl", "--concurrency", "300"], in: dir, name: "second")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("cut an unfinished last line"))
        #expect(rerun.stderr.contains("(+\(before.count) done by an earlier run, skipped)"))
        #expect(rerun.stderr.contains("  succeeded: \(total - before.count)"))

        let after = try outcomes(in: try dir.read("out.jsonl"))
        #expect(after.count == total)
        var successes: [String: Int] = [:]
        for outcome in after where outcome["ok"]?.boolValue == true {
            successes[outcome["key"]?.stringValue ?? "?", default: 0] += 1
        }
        #expect(Set(successes.keys) == Set(keys))
        #expect(successes.values.allSatisfy { $0 == 1 })
        // The first run's outcomes are still there, untouched, at the start of the file.
        #expect(after.prefix(before.count).compactMap { $0["key"]?.stringValue } == before.compactMap { $0["key"]?.stringValue })
    }
}
