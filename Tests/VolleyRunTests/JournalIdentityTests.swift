import Foundation
import Testing
import VolleyCore
import VolleyTestSupport
@testable import VolleyRun

/// What the journal records of each call (provider, model), what a resume does when they
/// differ, and keys that repeat within one input.
@Suite(.tags(.timeSensitive)) struct JournalIdentityTests {
    /// Mock lines that name no provider and no model (the run's flags choose both).
    func plainLines(_ keys: [String]) -> String {
        keys.map { key in
            JSONValue.object([
                "key": .string(key),
                "request": .object(["messages": .array([.object(["role": "user", "content": "hi"])])]),
            ]).jsonString
        }.joined(separator: "\n") + "\n"
    }

    @Test func outcomeLinesRecordTheProviderAndTheRequestedModel() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write("in.jsonl", mockItem("a") + "\n" + openAILine("b") + "\n")
        let report = await runInProcess(RunOptions(inputPath: path, provider: "mock", model: "asked-model", outputFormat: .volley))
        #expect(report.exitCode == 0)
        let outcome = byKey(try outcomes(in: try dir.read("in.out.jsonl")))
        #expect(outcome["a"]?["provider"]?.stringValue == "mock")
        #expect(outcome["a"]?["model"]?.stringValue == "asked-model")
        // The batch line names its own model; `--model` only fills a missing one.
        #expect(outcome["b"]?["provider"]?.stringValue == "mock")
        #expect(outcome["b"]?["model"]?.stringValue == "gpt-4o-mini")
        let text = try dir.read("in.out.jsonl")
        #expect(text.contains(#""key":"a","provider":"mock","model":"asked-model","ok":true"#), "\(text)")
    }

    @Test func journalDecisionsByProviderAndModel() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let journal = [
            #"{"line":1,"key":"a","provider":"mock","model":"m1","ok":true}"#,
            #"{"line":2,"key":"b","provider":"mock","ok":true}"#,
            #"{"line":3,"key":"old","ok":true}"#,                       // before outcomes named a provider
            #"{"line":4,"key":"d","ok":false,"duplicate_of":1}"#,       // a refused repeat
            #"{"line":5,"key":"f","provider":"mock","ok":false}"#,
        ].joined(separator: "\n") + "\n"
        let state = try ResumeState.load(path: try dir.write("out.jsonl", journal))
        #expect(state.outcomeLines == 5)
        #expect(state.unnamedSuccesses == 1)
        #expect(state.identitiesText == "mock 1, mock/m1 1")

        let mockM1 = RunIdentity(provider: "mock", model: "m1")
        let mockM2 = RunIdentity(provider: "mock", model: "m2")
        let mockNone = RunIdentity(provider: "mock", model: nil)
        let openai = RunIdentity(provider: "openai", model: "m1")
        func decide(_ key: String, _ identity: RunIdentity?, accept: Bool = false) -> ResumeState.Decision {
            state.decision(for: key, identity: identity, retryFailed: false, acceptOtherProvider: accept)
        }
        #expect(decide("a", mockM1) == .skipSucceeded)
        #expect(decide("a", mockM2) == .runAgainElsewhere)
        #expect(decide("a", mockNone) == .runAgainElsewhere)
        #expect(decide("a", openai) == .runAgainElsewhere)
        #expect(decide("a", openai, accept: true) == .skipSucceededElsewhere)
        #expect(decide("a", nil) == .skipSucceeded)  // an invalid line now: nothing is sent either way
        #expect(decide("b", mockNone) == .skipSucceeded)
        #expect(decide("b", mockM1) == .runAgainElsewhere)
        #expect(decide("old", openai) == .skipSucceededUnnamed)
        #expect(decide("d", mockM1) == .run)  // the repeat says nothing about key d
        #expect(decide("f", openai) == .skipFailed)  // failures: --retry-failed, whatever ran them
    }

    @Test func aResumeUnderAnotherModelRunsTheLinesAgainUnlessAccepted() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write("in.jsonl", plainLines(["k1", "k2", "k3"]))
        let first = await runInProcess(RunOptions(inputPath: path, provider: "mock", model: "m1"))
        #expect(first.counts.succeeded == 3)

        let console = CapturedConsole()
        let second = await runInProcess(RunOptions(inputPath: path, provider: "mock", model: "m2"), console: console)
        #expect(second.exitCode == 0)
        #expect(second.counts.succeeded == 3)
        #expect(second.counts.skippedSucceeded == 0)
        #expect(second.counts.rerunOtherProvider == 3)
        let output = console.output
        #expect(output.contains("successes by provider/model: mock/m1 3"), "\(output)")
        #expect(output.contains(#"volley run: line 1, key "k1": succeeded earlier, but not with mock/m2, which this run uses"#),
                "\(output)")
        #expect(output.contains("--accept-other-provider counts them as done"), "\(output)")
        #expect(output.contains("  run again: 3 (their earlier success came from another provider or model;"), "\(output)")

        // Now there is a success under m2: a rerun with m2 skips everything.
        let third = await runInProcess(RunOptions(inputPath: path, provider: "mock", model: "m2"))
        #expect(third.counts.skippedSucceeded == 3)
        #expect(third.counts.succeeded == 0)

        // A third model, accepting the earlier ones: nothing runs, and the summary says why.
        let acceptConsole = CapturedConsole()
        let fourth = await runInProcess(
            RunOptions(inputPath: path, provider: "mock", model: "m3", acceptOtherProvider: true), console: acceptConsole)
        #expect(fourth.exitCode == 0)
        #expect(fourth.counts.succeeded == 0)
        #expect(fourth.counts.skippedSucceeded == 3)
        #expect(fourth.counts.acceptedOtherProvider == 3)
        #expect(acceptConsole.output.contains("  accepted:  3 earlier successes from another provider or model"),
                "\(acceptConsole.output)")
        #expect(!acceptConsole.output.contains("running it again"))
        #expect(try outcomes(in: try dir.read("in.out.jsonl")).count == 6)
    }

    @Test func aResumeUnderAnotherProviderRunsTheLinesAgain() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let config = try dir.write("providers.json", #"{"providers":{"mock":{"kind":"mock"},"other":{"kind":"mock"}}}"#)
        let path = try dir.write("in.jsonl", plainLines(["x", "y"]))
        let first = await runInProcess(RunOptions(inputPath: path, configPath: config, provider: "mock"))
        #expect(first.counts.succeeded == 2)
        let console = CapturedConsole()
        let second = await runInProcess(RunOptions(inputPath: path, configPath: config, provider: "other"), console: console)
        #expect(second.counts.rerunOtherProvider == 2)
        #expect(second.counts.succeeded == 2)
        #expect(console.output.contains("not with other, which this run uses"), "\(console.output)")
        let all = try outcomes(in: try dir.read("in.out.jsonl"))
        #expect(all.compactMap { $0["provider"]?.stringValue } == ["mock", "mock", "other", "other"])
    }

    @Test func successesJournaledWithoutAProviderCountAsDone() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write("in.jsonl", plainLines(["p", "q", "r"]))
        // What a volley from before outcomes named their provider wrote.
        try dir.write("in.out.jsonl", [
            #"{"line":1,"key":"p","ok":true,"value":{"text":"old","model":"mock"},"attempts":1}"#,
            #"{"line":2,"key":"q","ok":true,"value":{"text":"old","model":"mock"},"attempts":1}"#,
        ].joined(separator: "\n") + "\n")
        let console = CapturedConsole()
        let report = await runInProcess(RunOptions(inputPath: path, provider: "mock", model: "new"), console: console)
        #expect(report.exitCode == 0)
        #expect(report.counts.succeeded == 1)
        #expect(report.counts.skippedSucceeded == 2)
        #expect(report.counts.skippedUnnamed == 2)
        #expect(report.counts.rerunOtherProvider == 0)
        #expect(console.output.contains("2 successes name no provider (an older volley wrote them): counted as done"),
                "\(console.output)")
        #expect(console.output.contains("  unnamed:   2 earlier successes name no provider"), "\(console.output)")
    }

    @Test func aRepeatedKeyIsAnInvalidLineNamingTheFirst() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let input = [
            mockItem("a"),            // 1
            mockItem("b"),            // 2
            mockItem("a", "again"),   // 3: repeats line 1
            openAILine("c"),          // 4
            "",                       // 5
            openAILine("c"),          // 6: repeats line 4
            mockItem(nil),            // 7: line:7
            mockItem("a"),            // 8: repeats line 1 again
        ].joined(separator: "\n") + "\n"
        let path = try dir.write("in.jsonl", input)
        let console = CapturedConsole()
        let report = await runInProcess(RunOptions(inputPath: path, provider: "mock", outputFormat: .volley), console: console)
        #expect(report.exitCode == 1)
        #expect(report.counts.succeeded == 4)
        #expect(report.counts.failed == 3)
        #expect(report.counts.duplicateKeys == 3)
        #expect(report.counts.total == 7)
        let lines = try outcomes(in: try dir.read("in.out.jsonl"))
        #expect(lines.count == 7)
        let byLine = Dictionary(lines.map { ($0["line"]?.intValue ?? 0, $0) }, uniquingKeysWith: { first, _ in first })
        for (line, first, key) in [(3, 1, "a"), (6, 4, "c"), (8, 1, "a")] {
            let outcome = byLine[line]
            #expect(outcome?["key"]?.stringValue == key)
            #expect(outcome?["ok"]?.boolValue == false)
            #expect(outcome?["error"]?["kind"]?.stringValue == "invalid_request")
            #expect(outcome?["error"]?["message"]?.stringValue?.hasPrefix(
                "line \(line): duplicate key \"\(key)\": line \(first) has it already") == true, "\(String(describing: outcome))")
            #expect(outcome?["duplicate_of"]?.intValue == first)
        }
        #expect(byLine[1]?["ok"]?.boolValue == true)
        #expect(byLine[4]?["ok"]?.boolValue == true)
        #expect(console.output.contains("  duplicate keys: 3 (lines that repeat an earlier line's key: not run"), "\(console.output)")

        // A rerun skips what succeeded and refuses the repeats again: still no second call.
        let again = await runInProcess(RunOptions(inputPath: path, provider: "mock", outputFormat: .volley))
        #expect(again.counts.succeeded == 0)
        #expect(again.counts.skippedSucceeded == 4)
        #expect(again.counts.duplicateKeys == 3)
        #expect(again.exitCode == 1)
    }

    /// The refusal of a repeat is journaled under the key it repeats; it must not make that key
    /// look failed to a resume (which would then skip the line that owns the key).
    @Test func aRepeatRefusedWhileItsFirstLineRanDoesNotMarkTheKeyFailed() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write("in.jsonl", mockItem("a") + "\n" + mockItem("a") + "\n")
        // As if the run stopped before line 1's call finished: only the refusal is journaled.
        try dir.write("in.out.jsonl",
            #"{"line":2,"key":"a","ok":false,"error":{"kind":"invalid_request","message":"line 2: duplicate key"},"attempts":0,"duplicate_of":1}"#
            + "\n")
        let report = await runInProcess(RunOptions(inputPath: path))
        #expect(report.counts.succeeded == 1)
        #expect(report.counts.skippedFailed == 0)
        #expect(report.counts.duplicateKeys == 1)
    }
}

@Suite struct KeyLinesTests {
    @Test func explicitKeysRepeatAndKeylessLinesDoNot() {
        var keys = KeyLines()
        #expect(keys.use("a", line: 1) == nil)
        #expect(keys.use("line:2", line: 2) == nil)  // keyless line 2
        #expect(keys.use("a", line: 3) == 1)
        #expect(keys.use("line:4", line: 4) == nil)
        #expect(keys.use("b", line: 5) == nil)
        #expect(keys.use("a", line: 6) == 1)
        // Keyless lines are not kept as keys: only the explicit ones are.
        #expect(keys.count == 2)
    }

    @Test func anExplicitKeySpelledLikeALineNumberClashesBothWays() {
        var keys = KeyLines()
        #expect(keys.use("line:9", line: 1) == nil)   // explicit, naming a later line
        #expect(keys.use("line:3", line: 3) == nil)   // keyless line 3
        #expect(keys.use("line:3", line: 5) == 3)     // explicit, naming keyless line 3
        #expect(keys.use("line:9", line: 9) == 1)     // keyless line 9, whose key line 1 took
        #expect(keys.use("line:4", line: 6) == nil)   // line 4 was never read as keyless
        #expect(keys.use("line:07", line: 7) == nil)  // not how line 7 is spelled
        #expect(keys.use("line:200", line: 300) == nil)
    }
}
