import Foundation
import Testing
import VolleyCore
import VolleyTestSupport
@testable import VolleyRun

@Suite(.tags(.timeSensitive)) struct ResumeTests {
    @Test func journalKeysAndAnUnfinishedLastLine() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let journal = [
            #"{"line":1,"key":"a","ok":true}"#,
            #"{"line":2,"key":"b","ok":false}"#,
            #"{"line":3,"key":"c","ok":false}"#,
            #"{"line":3,"key":"c","ok":true}"#,
            "garbage",
            #"{"line":4,"key":"d","ok":true,"va"#,  // a crash mid-write: no newline
        ].joined(separator: "\n")
        let path = try dir.write("out.jsonl", journal)
        let state = try ResumeState.load(path: path)
        #expect(state.outcomeLines == 4)
        #expect(state.ignoredLines == 1)
        #expect(state.truncatedBytes == #"{"line":4,"key":"d","ok":true,"va"#.utf8.count)
        #expect(try dir.read("out.jsonl").hasSuffix("garbage\n"))

        #expect(state.decision(for: "a", retryFailed: false) == .skipSucceeded)
        #expect(state.decision(for: "b", retryFailed: false) == .skipFailed)
        #expect(state.decision(for: "b", retryFailed: true) == .run)
        #expect(state.decision(for: "c", retryFailed: true) == .skipSucceeded)
        #expect(state.decision(for: "d", retryFailed: false) == .run)
        #expect(state.decision(for: "zzz", retryFailed: false) == .run)
    }

    @Test func aJournalWithNoNewlineAtAllIsEmptied() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write("out.jsonl", #"{"line":1,"key":"a","ok":tr"#)
        let state = try ResumeState.load(path: path)
        #expect(state.outcomeLines == 0)
        #expect(try dir.read("out.jsonl").isEmpty)
        let missing = try ResumeState.load(path: dir.path("none.jsonl"))
        #expect(missing.outcomeLines == 0)
    }

    @Test func keySetDigests() {
        var set = KeySet()
        for index in 0..<10_000 { set.insert("key-\(index)") }
        #expect(set.count == 10_000)
        #expect(set.contains("key-9999"))
        #expect(!set.contains("key-10000"))
        #expect(!set.contains(""))
    }

    @Test func rerunSkipsSuccessesAndKeepsFailuresUnlessAsked() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        var lines = (0..<20).map { mockItem("ok-\($0)") }
        lines.append(mockItem("bad", fail: "http", status: 400))
        lines.append("{broken")
        let path = try dir.write("in.jsonl", lines.joined(separator: "\n") + "\n")

        let first = await runInProcess(RunOptions(inputPath: path))
        #expect(first.exitCode == 1)
        #expect(first.counts.succeeded == 20)
        #expect(first.counts.failed == 2)

        // Nothing is run again: successes are skipped, failures reported as still failed.
        let console = CapturedConsole()
        let second = await runInProcess(RunOptions(inputPath: path), console: console)
        #expect(second.exitCode == 1)
        #expect(second.counts.succeeded == 0)
        #expect(second.counts.failed == 0)
        #expect(second.counts.skippedSucceeded == 20)
        #expect(second.counts.skippedFailed == 2)
        #expect(console.output.contains("still failed from an earlier run: 2"))
        #expect(try outcomes(in: try dir.read("in.out.jsonl")).count == 22)

        // --retry-failed runs the two failures again (they fail again), never the successes.
        let third = await runInProcess(RunOptions(inputPath: path, retryFailed: true))
        #expect(third.exitCode == 1)
        #expect(third.counts.skippedSucceeded == 20)
        #expect(third.counts.failed == 2)
        let all = try outcomes(in: try dir.read("in.out.jsonl"))
        #expect(all.count == 24)
        let successes = all.filter { $0["ok"]?.boolValue == true }.compactMap { $0["key"]?.stringValue }
        #expect(successes.count == 20)
        #expect(Set(successes).count == 20)
    }

    /// Issue 14.1: a line no provider could take (none named, no key) made no call; once a
    /// provider is given, a rerun runs it instead of reporting it as failed before.
    @Test func aLineNoProviderCouldTakeRunsOnceOneIsGiven() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let unnamed = #"{"key":"u","request":{"messages":[{"role":"user","content":"hi"}]}}"#
        let path = try dir.write("in.jsonl", unnamed + "\n" + mockItem("named") + "\n")

        let first = await runInProcess(RunOptions(inputPath: path))
        #expect(first.counts.failed == 1 && first.counts.succeeded == 1)
        let journaled = try outcomes(in: try dir.read("in.out.jsonl"))
        let refused = journaled.first { $0["key"] == "u" }
        #expect(refused?["unrouted"] == true, "\(journaled)")
        #expect(refused?["error"]?["message"]?.stringValue?.contains("OPENAI_API_KEY") == true)

        // Without --retry-failed: the refusal paid for nothing and is not a result.
        let second = await runInProcess(RunOptions(inputPath: path, provider: "mock"))
        #expect(second.exitCode == 0)
        #expect(second.counts.succeeded == 1 && second.counts.skippedSucceeded == 1 && second.counts.skippedFailed == 0)
        let all = try outcomes(in: try dir.read("in.out.jsonl"))
        #expect(all.filter { $0["key"] == "u" && $0["ok"] == true }.count == 1)
    }

    /// A resume that skips every line ends before the background count can be done: the last
    /// progress line still shows the total (from the run's own reading), not `5/? ... ETA ?`.
    @Test func aResumeThatSkipsEverythingEndsWithTheTotal() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write("in.jsonl", (0..<5).map { mockItem("t\($0)") }.joined(separator: "\n") + "\n\n")
        let first = await runInProcess(RunOptions(inputPath: path), countsLinesInBackground: false)
        #expect(first.counts.total == 5)
        #expect(first.counts.succeeded == 5)

        let console = CapturedConsole()
        let second = await runInProcess(RunOptions(inputPath: path), console: console, countsLinesInBackground: false)
        #expect(second.exitCode == 0)
        #expect(second.counts.total == 5)
        #expect(second.counts.skippedSucceeded == 5)
        let progress = console.output.split(separator: "\n").filter { $0.contains(" done, ") }
        #expect(progress.last?.hasPrefix("volley run: 5/5 done, 0 failed, ") == true, "\(progress)")
        #expect(progress.last?.hasSuffix(", ETA 0s") == true, "\(progress)")
        #expect(!console.output.contains("?"), "\(console.output)")
    }

    @Test func retryFailedTurnsAFixedLineIntoASuccess() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write("in.jsonl", mockItem("x", fail: "overloaded") + "\n" + mockItem("y") + "\n")
        let first = await runInProcess(RunOptions(inputPath: path, maxRetries: 0))
        #expect(first.exitCode == 1)
        // The user fixes the line; the key stays.
        try dir.write("in.jsonl", mockItem("x") + "\n" + mockItem("y") + "\n")
        let second = await runInProcess(RunOptions(inputPath: path, retryFailed: true))
        #expect(second.exitCode == 0)
        #expect(second.counts.succeeded == 1)
        #expect(second.counts.skippedSucceeded == 1)
        let third = await runInProcess(RunOptions(inputPath: path))
        #expect(third.exitCode == 0)
        #expect(third.counts.skippedSucceeded == 2)
    }
}
