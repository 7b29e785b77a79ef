import Foundation
import Testing
import VolleyCore
import VolleyTestSupport
@testable import VolleyRun

@Suite(.tags(.timeSensitive)) struct FileRunTests {
    @Test func mixedFormatsGetOneOutcomeEachWithKeysAndLines() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let input = [
            mockItem("item-a", "alpha"),                       // 1
            "",                                                // 2 blank: no outcome
            openAILine("batch-b", "beta"),                     // 3
            "{not json",                                       // 4
            mockItem(nil, "no key"),                           // 5
            "   ",                                             // 6 blank
            #"{"custom_id":"emb","method":"POST","url":"/v1/embeddings","body":{"input":"x"}}"#,  // 7
            #"{"key":"no-request"}"#,                          // 8
            #"{"key":"elsewhere","provider":"nowhere","request":{"messages":[]}}"#,  // 9
            mockItem("fails", fail: "http", status: 400),      // 10
            openAILine("batch-c", "gamma"),                    // 11 (no trailing newline)
        ].joined(separator: "\n")
        let path = try dir.write("in.jsonl", input)
        let console = CapturedConsole()
        // Volley outcome lines for every line (by default, Batch lines get Batch output lines).
        let report = await runInProcess(RunOptions(inputPath: path, provider: "mock", outputFormat: .volley), console: console)

        #expect(report.exitCode == 1)
        let lines = try outcomes(in: try dir.read("in.out.jsonl"))
        #expect(lines.count == 9)
        let outcome = byKey(lines)
        #expect(Set(outcome.keys) == ["item-a", "batch-b", "line:4", "line:5", "emb", "no-request", "elsewhere", "fails", "batch-c"])

        func check(_ key: String, line: Int, ok: Bool, kind: String? = nil, text: String? = nil, message: String? = nil) {
            guard let object = outcome[key] else {
                Issue.record("no outcome for \(key)")
                return
            }
            #expect(object["line"]?.intValue == line, "\(key)")
            #expect(object["ok"]?.boolValue == ok, "\(key)")
            #expect(object["index"] == nil, "\(key)")
            if let kind { #expect(object["error"]?["kind"]?.stringValue == kind, "\(key)") }
            if let text { #expect(object["value"]?["text"]?.stringValue == text, "\(key)") }
            if let message {
                let got = object["error"]?["message"]?.stringValue ?? ""
                #expect(got.hasPrefix(message), "\(key): \(got)")
            }
        }
        check("item-a", line: 1, ok: true, text: "Mock reply to: alpha")
        check("batch-b", line: 3, ok: true, text: "Mock reply to: beta")
        check("line:4", line: 4, ok: false, kind: "invalid_request", message: "line 4: invalid JSON")
        check("line:5", line: 5, ok: true, text: "Mock reply to: no key")
        check("emb", line: 7, ok: true)
        check("no-request", line: 8, ok: false, kind: "invalid_request", message: "line 8: `request` is required")
        check("elsewhere", line: 9, ok: false, kind: "invalid_request", message: "line 9: unknown provider \"nowhere\"")
        check("fails", line: 10, ok: false, kind: "http")
        check("batch-c", line: 11, ok: true, text: "Mock reply to: gamma")
        #expect(outcome["batch-b"]?["value"]?["model"]?.stringValue == "gpt-4o-mini")

        #expect(outcome["emb"]?["value"]?["embeddings"]?[0]?.arrayValue?.isEmpty == false, "an embeddings Batch line runs")
        #expect(report.counts.succeeded == 5)
        #expect(report.counts.failed == 4)
        #expect(report.counts.failedByKind == ["invalid_request": 3, "http": 1])
        #expect(report.counts.usage.outputTokens > 0)
        #expect(console.output.contains("failed:    4 (http: 1, invalid_request: 3)"))
    }

    @Test func allSucceededExitsZeroAndWritesEveryOutcomeLineWhole() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let keys = (0..<500).map { "k\($0)" }
        let path = try dir.write("in.jsonl", keys.map { mockItem($0) }.joined(separator: "\n") + "\n")
        let out = dir.path("custom.jsonl")
        let report = await runInProcess(RunOptions(inputPath: path, outputPath: out, concurrency: 7))
        #expect(report.exitCode == 0)
        #expect(report.counts.succeeded == 500)
        let text = try dir.read("custom.jsonl")
        #expect(text.hasSuffix("\n"))
        let lines = try outcomes(in: text)
        #expect(lines.count == 500)
        #expect(Set(lines.compactMap { $0["key"]?.stringValue }) == Set(keys))
        #expect(Set(lines.compactMap { $0["line"]?.intValue }) == Set(1...500))
    }

    @Test func modelAndTimeoutFlagsApplyToLinesThatLackThem() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        // The fast item has two seconds to do zero milliseconds of work; the slow one never fits.
        let slow = mockItem("slow", latencyMs: 60_000)
        let path = try dir.write("in.jsonl", mockItem("fast") + "\n" + slow + "\n")
        let report = await runInProcess(RunOptions(inputPath: path, model: "flag-model", timeoutSeconds: 2))
        #expect(report.exitCode == 1)
        let outcome = byKey(try outcomes(in: try dir.read("in.out.jsonl")))
        #expect(outcome["fast"]?["value"]?["model"]?.stringValue == "flag-model")
        #expect(outcome["slow"]?["error"]?["kind"]?.stringValue == "timeout")
    }

    @Test func setupErrorsExitTwoAndRunNothing() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write("in.jsonl", mockItem("a") + "\n")
        let badConfig = try dir.write("bad.json", #"{"providers":{"p":{"kind":"nope"}}}"#)
        let cases: [RunOptions] = [
            RunOptions(inputPath: dir.path("missing.jsonl")),
            RunOptions(inputPath: path, provider: "nowhere"),
            RunOptions(inputPath: path, configPath: badConfig),
            RunOptions(inputPath: path, configPath: dir.path("missing.json")),
            RunOptions(inputPath: path, concurrency: 0),
            RunOptions(inputPath: path, timeoutSeconds: -1),
            RunOptions(inputPath: path, outputPath: path),
        ]
        for options in cases {
            let console = CapturedConsole()
            let report = await runInProcess(options, console: console)
            #expect(report.exitCode == 2, "\(console.output)")
            #expect(console.output.hasPrefix("volley run: "))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("in.out.jsonl")))
    }

    @Test func flagsOverrideTheConfiguredLimits() throws {
        var config = ProviderConfig(name: "p", kind: .openai)
        config.limits = ProviderLimits(concurrency: 10, rpm: 100, tpm: 1000)
        config.modelLimits = ["big": ProviderLimits(concurrency: 3, rpm: 50, tpm: 500, itpm: 400, otpm: 100,
                                                    burst: 4, tokenBurst: 300, adaptive: false)]
        let options = RunOptions(inputPath: "x", rpm: 7, concurrency: 2, maxRetries: 9)
        let updated = RunProviders.applyOverrides(options, to: config)
        #expect(updated.limits == ProviderLimits(concurrency: 2, rpm: 7, tpm: 1000))
        // The model keeps every limit the flags do not set: itpm, otpm, burst, token_burst, adaptive.
        #expect(updated.limits(for: "big") == ProviderLimits(concurrency: 2, rpm: 7, tpm: 500, itpm: 400, otpm: 100,
                                                             burst: 4, tokenBurst: 300, adaptive: false))
        #expect(updated.configuresRateOrConcurrency(for: nil))
        #expect(updated.retry.maxRetries == 9)
    }

    @Test func providerFlagBecomesTheDefault() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let config = try dir.write("c.json", #"{"providers":{"fake":{"kind":"mock","latency_ms":0},"other":{"kind":"mock"}}}"#)
        let set = try RunProviders.build(RunOptions(inputPath: "x", configPath: config, provider: "fake"), environment: [:])
        #expect(set.defaultName == "fake")
        #expect(FileRun.defaultConcurrency(set) == 1024)
        let unset = try RunProviders.build(RunOptions(inputPath: "x", configPath: config), environment: [:])
        #expect(unset.defaultName == nil)
        #expect(FileRun.defaultConcurrency(unset) == BatchOptions.defaultConcurrency)
    }

    @Test func defaultOutputPath() {
        #expect(RunOptions.defaultOutputPath(for: "data/in.jsonl") == "data/in.out.jsonl")
        #expect(RunOptions.defaultOutputPath(for: "in") == "in.out.jsonl")
        #expect(RunOptions.defaultOutputPath(for: "a.b/in") == "a.b/in.out.jsonl")
        #expect(RunOptions.defaultOutputPath(for: "/x/.hidden") == "/x/.hidden.out.jsonl")
    }

    @Test func progressText() {
        var counts = RunCounts()
        counts.total = 100
        counts.succeeded = 40
        counts.failed = 5
        counts.skippedSucceeded = 5
        counts.usage = Usage(inputTokens: 12, outputTokens: 34)
        #expect(ProgressText.line(counts, elapsedSeconds: 9)
            == "50/100 done, 5 failed, 5.0/s, tokens 12 in / 34 out, $0.0000, ETA 10s")
        counts.total = nil
        #expect(ProgressText.line(counts, elapsedSeconds: 0) == "50/? done, 5 failed, 0.0/s, tokens 12 in / 34 out, $0.0000, ETA ?")
        #expect(ProgressText.duration(59.2) == "1m00s")
        #expect(ProgressText.duration(422) == "7m02s")
        #expect(ProgressText.duration(11_100) == "3h05m")
    }

    @Test func slotPoolHandsOutFreeSlotsInBulk() async {
        let pool = SlotPool(capacity: 8)
        #expect(await pool.acquire(minimum: 2, limit: 5) == 5)
        #expect(await pool.acquire(minimum: 2, limit: 100) == 3)
        async let waiting = pool.acquire(minimum: 4, limit: 100)
        pool.release(1)
        pool.release(1)
        pool.release(1)
        pool.release(5)
        #expect(await waiting >= 4)
    }
}

extension FileRunTests {
    /// A `--config` provider that would call an API without a key is said on stderr at start.
    @Test func aKeylessConfigProviderIsWarnedAbout() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let config = try dir.write("config.json", #"{"providers":{"gw":{"kind":"openai","base_url":"http://127.0.0.1:9/v1","api_key_env":"NOT_SET_ANYWHERE"}}}"#)
        let path = try dir.write("in.jsonl", mockItem("a") + "\n")
        let console = CapturedConsole()
        let report = await runInProcess(RunOptions(inputPath: path, configPath: config), console: console)
        #expect(report.counts.succeeded == 1)
        #expect(console.output.contains(#"volley run: warning: provider "gw" has no API key (NOT_SET_ANYWHERE is not set"#), "\(console.output)")
    }
}

@Suite struct OutcomeLineTests {
    @Test func lineAndKeyComeFirstAndIndexIsDropped() throws {
        let value = ItemValue(text: "t", finishReason: "stop", model: "m", usage: Usage(inputTokens: 1, outputTokens: 2))
        let outcome = Outcome(index: 12, key: nil, result: .success(value), attempts: 1, latencyMs: 3, queuedMs: 4)
        let bytes = OutcomeLine.bytes(outcome)
        #expect(bytes.last == 0x0A)
        #expect(bytes.dropLast().contains(0x0A) == false)
        guard case .object(let object) = try JSONParser.parse(Array(bytes.dropLast())) else {
            Issue.record("not an object")
            return
        }
        #expect(object.keys == ["line", "key", "ok", "value", "attempts", "latency_ms", "queued_ms", "cost_usd"])
        #expect(object["line"]?.intValue == 12)
        #expect(object["key"]?.stringValue == "line:12")
        #expect(object["value"]?["raw"] == nil)

        let asked = Outcome(index: 1, key: "k", result: .success(
            ItemValue(text: "t", finishReason: nil, model: nil, usage: nil, raw: ["id": "x"])), attempts: 1, latencyMs: nil, queuedMs: nil)
        guard case .object(let kept) = try JSONParser.parse(Array(OutcomeLine.bytes(asked).dropLast())) else {
            Issue.record("not an object")
            return
        }
        #expect(kept["value"]?["raw"]?["id"]?.stringValue == "x")
    }
}
