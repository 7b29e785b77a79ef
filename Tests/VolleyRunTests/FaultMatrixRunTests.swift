import FakeLLM
import FakeLLMTestSupport
import Foundation
import Testing
import VolleyCore
import VolleyTestSupport
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Issue 20's fault matrix, `volley run` column (the RPC columns are `FaultMatrixTests` in
/// VolleyEndToEndTests): each cell runs a JSONL file through the built binary while one fault
/// strikes, and ends with one outcome line per input line, each key exactly once, with the error
/// kind the fault must give, and the exit status docs/run.md promises. "stdin closed mid-line"
/// does not apply: a run reads a file (a last line without its newline is still a line,
/// `LineReaderTests`). Plus: twenty SIGKILLs in a row during one file, resumed each time.
@Suite("Fault matrix: volley run", .timeLimit(.minutes(3)), .tags(.endToEnd))
struct FaultMatrixRunTests {
    static let count = 20

    @Test("every line accounted for exactly once, and the documented exit status", arguments: RunFault.allCases)
    func cell(_ fault: RunFault) async throws {
        switch fault {
        case .serverKilled: try await serverKilled()
        case .resetMidBody:
            let lines = (0..<Self.count).map { index in
                switch index % 4 {
                case 1: runLine(index, fake: ["mode": "reset"])
                case 3: runLine(index, fake: ["mode": "reset_stream"], extra: ["stream": true])
                default: runLine(index)
                }
            }
            try await runToTheEnd(lines, expected: alternating("connection"))
        case .headersNeverFinish:
            let lines = (0..<Self.count).map {
                $0.isMultiple(of: 2) ? runLine($0) : runLine($0, fake: ["mode": "stall_headers"], extra: ["timeout": 0.5])
            }
            try await runToTheEnd(lines, expected: alternating("timeout")) { server in
                let stalled = Self.count / 2
                try await server.waitForStats { $0.clientDisconnectsBeforeResponseEnd == stalled && $0.inFlight == 0 }
            }
        case .bodyOverLimit:
            let lines = (0..<Self.count).map {
                $0.isMultiple(of: 2) ? runLine($0) : runLine($0, fake: ["output_tokens": 20_000], maxTokens: 20_000)
            }
            try await runToTheEnd(lines, expected: alternating("provider_error"), arguments: ["--max-response-bytes", "65536"])
        case .brokenChunked:
            let lines = (0..<Self.count).map { index -> String in
                let stream: JSONObject = index % 8 >= 4 ? ["stream": true] : [:]
                switch index % 4 {
                case 1: return runLine(index, fake: ["mode": "garbage_chunked"], extra: stream)
                case 3: return runLine(index, fake: ["mode": "truncated_chunked"], extra: stream)
                default: return runLine(index)
                }
            }
            try await runToTheEnd(lines, expected: alternating("connection"))
        case .dnsFailure: try await dnsFailure()
        case .descriptorExhaustion: try await descriptorExhaustion()
        case .hostNotReading: try await hostNotReading()
        case .sigterm: try await sigterm()
        }
    }

    // MARK: - Cells

    /// The server goes away while half the lines wait for headers: those lines are `connection`
    /// failures, the run ends with status 1.
    func serverKilled() async throws {
        let lines = (0..<Self.count).map { $0.isMultiple(of: 2) ? runLine($0) : runLine($0, fake: ["mode": "stall_headers"]) }
        try await withFakeServer { server in
            let dir = try TempDir()
            defer { dir.cleanup() }
            try writeInput(dir, lines, server: server)
            let child = try VolleyProcess.Child(["run", "in.jsonl", "--config", "config.json", "--concurrency", "\(Self.count)"], in: dir)
            let half = Self.count / 2
            try await server.waitForStats { $0.responsesCompleted == half && $0.inFlight == half }
            try await server.shutdown()
            try await child.wait(timeoutSeconds: 30)
            #expect(child.process.terminationStatus == 1, "\(child.stderr)")
            try expectOutput(dir, alternating("connection"))
        }
    }

    /// A host that does not resolve: `connection` at once, retried once as configured.
    func dnsFailure() async throws {
        let lines = (0..<Self.count).map { $0.isMultiple(of: 2) ? runLine($0) : runLine($0, provider: "nowhere") }
        try await withFakeServer { server in
            let dir = try TempDir()
            defer { dir.cleanup() }
            try writeInput(dir, lines, server: server, extraProviders: [
                "nowhere": [
                    "kind": "openai", "base_url": "http://nonexistent.invalid/v1", "api_key": "sk-fake",
                    "retry": ["max_retries": 1, "initial_delay": 0.01, "max_delay": 0.05], "timeouts": ["connect": 1],
                ],
            ])
            let result = try await VolleyProcess.run(["run", "in.jsonl", "--config", "config.json"], in: dir)
            #expect(result.status == 1, "\(result.stderr)")
            let outcomes = try expectOutput(dir, alternating("connection"))
            for index in stride(from: 1, to: Self.count, by: 2) {
                let outcome = outcomes[index]
                #expect(outcome["attempts"] == 2, "\(outcome)")
                #expect(outcome["error"]?["message"]?.stringValue?.lowercased().contains("resolv") == true, "\(outcome)")
                #expect((outcome["latency_ms"]?.doubleValue ?? 0) < 4_000, "failed fast: \(outcome)")
            }
            #expect(server.stats().requests == Self.count / 2)
        }
    }

    /// 1,000 lines at once under a hard limit of 64 open files.
    func descriptorExhaustion() async throws {
        let total = 1_000
        let lines = (0..<total).map { runLine($0, fake: ["latency_ms": 200]) }
        try await withFakeServer({ $0.recordRequests = false }) { server in
            let dir = try TempDir()
            defer { dir.cleanup() }
            try writeInput(dir, lines, server: server)
            let child = try VolleyProcess.Child(
                ["run", "in.jsonl", "--config", "config.json", "--concurrency", "\(total)", "--max-connections-per-host", "\(total)"],
                in: dir, openFilesLimit: 64)
            try await child.wait(timeoutSeconds: 60)
            let outcomes = try expectOutput(dir, Array(repeating: .okOr("connection"), count: total))
            let succeeded = outcomes.count { $0["ok"] == true }
            #expect(succeeded > 0 && succeeded < total, "\(succeeded) of \(total) fit under the limit")
            #expect(child.process.terminationStatus == (succeeded == total ? 0 : 1), "\(child.stderr.suffix(1000))")
            let settled = try await server.waitForStats { $0.inFlight == 0 }
            #expect(settled.responsesCompleted == succeeded, "every success the server paid for is in the output, once")
        }
    }

    /// `-o -` to a host that does not read: the run blocks on its stdout, starts nothing more,
    /// and once read every line arrives whole and once.
    func hostNotReading() async throws {
        let bigCount = 8
        let lines = (0..<Self.count).map {
            $0 < bigCount ? runLine($0, fake: ["output_tokens": 100_000], maxTokens: 100_000, extra: ["raw": true]) : runLine($0)
        }
        try await withFakeServer({ $0.recordRequests = false }) { server in
            let dir = try TempDir()
            defer { dir.cleanup() }
            try writeInput(dir, lines, server: server)
            let pipe = Pipe()
            let child = try VolleyProcess.Child(["run", "in.jsonl", "--config", "config.json", "-o", "-", "--concurrency", "2"],
                                                in: dir, stdoutPipe: pipe)
            defer { child.signal(SIGKILL) }
            try await server.waitForStats { $0.responsesCompleted >= 1 }
            await waitUntil("the run is blocked on its stdout with nothing in flight") {
                ProcessProbe.isBlockedWriting(pid: child.pid, fd: 1) != false && server.stats().inFlight == 0
            }
            #expect(server.stats().requests < Self.count, "nothing more starts while the output is blocked")
            let output = Latch<[UInt8]>(name: "the run's stdout")
            let reading = pipe.fileHandleForReading
            Thread.detachNewThread { output.set(Array((try? reading.readToEnd()) ?? Data())) }
            try await child.wait(timeoutSeconds: 60)
            #expect(child.process.terminationStatus == 0, "\(child.stderr)")
            let text = String(decoding: try await output.wait(timeout: 30), as: UTF8.self)
            #expect(text.hasSuffix("\n"))
            try expectLines(try outcomes(in: text), Array(repeating: .ok, count: Self.count))
        }
    }

    /// SIGTERM mid-file: exit 130 as documented, finished lines kept, the abandoned ones run by
    /// the resume (the same command), once.
    func sigterm() async throws {
        // Unscripted requests wait a minute on the first server: lines 10...19 are in flight at the signal.
        let half = Self.count / 2
        let lines = (0..<Self.count).map { $0 < half ? runLine($0, fake: ["latency_ms": 0]) : runLine($0) }
        try await withFakeServer({ $0.latency = .fixed(milliseconds: 60_000) }) { slow in
            try await withFakeServer { fast in
                let dir = try TempDir()
                defer { dir.cleanup() }
                try writeInput(dir, lines, server: slow)
                let command = ["run", "in.jsonl", "--config", "config.json", "--concurrency", "\(Self.count)"]
                let first = try VolleyProcess.Child(command, in: dir, name: "first")
                defer { first.signal(SIGKILL) }
                try await slow.waitForStats { $0.responsesCompleted == half && $0.inFlight == half }
                await waitUntil("the finished half is in the output") {
                    ((try? dir.read("in.out.jsonl")) ?? "").split(separator: "\n").count == half
                }
                first.signal(SIGTERM)
                try await first.wait(timeoutSeconds: 30)
                #expect(first.process.terminationStatus == 130, "\(first.stderr)")
                let kept = try outcomes(in: try dir.read("in.out.jsonl"))
                #expect(Set(kept.compactMap { $0["key"]?.stringValue }) == Set((0..<half).map { "k\($0)" }))
                #expect(kept.count == half && kept.allSatisfy { $0["ok"] == true })
                try await slow.waitForStats { $0.clientDisconnectsBeforeResponseEnd == half }

                // The same command against a server that answers at once.
                try writeConfig(dir, server: fast)
                let second = try await VolleyProcess.run(command, in: dir, name: "second")
                #expect(second.status == 0, "\(second.stderr)")
                try expectOutput(dir, Array(repeating: .ok, count: Self.count))
                #expect(fast.stats().requests == half, "only the abandoned lines ran again")
            }
        }
    }

    // MARK: - Twenty SIGKILLs

    static let killLines = 450
    static let kills = 20
    static let killConcurrency = 8

    /// `volley run` killed with SIGKILL 20 times in a row during one file, each time restarted
    /// with the same command; then run to the end. Promised (docs/run.md, "Resume"): the output
    /// is whole lines, one per key; nothing written to the output is ever sent again; only calls
    /// that were running at a kill (at most `--concurrency` per kill) may be sent, and paid, twice.
    @Test("SIGKILL twenty times during one file, resumed each time: each line once, no success paid twice")
    func sigkilledTwentyTimes() async throws {
        // One model per line, so the server's records say which line each request was.
        let lines = (0..<Self.killLines).map { runLine($0, fake: ["latency_ms": 10], model: "fm-\($0)") }
        try await withFakeServer { server in
            let dir = try TempDir()
            defer { dir.cleanup() }
            try writeInput(dir, lines, server: server)
            let command = ["run", "in.jsonl", "--config", "config.json", "--concurrency", "\(Self.killConcurrency)"]
            // Per run: the keys already in the output when it started, and its requests.
            var doneBefore: [Set<String>] = []
            var recordSlices: [ArraySlice<FakeRequestRecord>] = []
            var recorded = 0
            for kill in 0..<Self.kills {
                let done = try Self.completeKeys(dir)
                doneBefore.append(done)
                let child = try VolleyProcess.Child(command, in: dir, name: "run-\(kill)")
                defer { child.signal(SIGKILL) }
                // Killed once it has written a few outcomes, while others are running. (Only
                // outcome lines are ever written, so counting newlines is enough, and cheap.)
                let written = Self.newlines(dir)
                await waitUntil("run \(kill) writes 3 outcomes", pollInterval: .milliseconds(2)) { Self.newlines(dir) >= written + 3 }
                #expect(!child.hasExited, "run \(kill) ended before it was killed: the file is too short")
                child.signal(SIGKILL)
                try await child.wait(timeoutSeconds: 30)
                #expect(child.process.terminationReason == .uncaughtSignal, "run \(kill): \(child.stderr)")
                // Its connections are gone: every request it made is recorded.
                let settled = try await server.waitForStats { $0.inFlight == 0 }
                recordSlices.append(settled.records[recorded...])
                recorded = settled.records.count
            }
            doneBefore.append(try Self.completeKeys(dir))
            let last = try await VolleyProcess.run(command, in: dir, name: "last")
            #expect(last.status == 0, "\(last.stderr)")
            let settled = try await server.waitForStats { $0.inFlight == 0 }
            recordSlices.append(settled.records[recorded...])

            // Whole lines only, each key once, all successes.
            let text = try dir.read("in.out.jsonl")
            #expect(text.hasSuffix("\n"), "no torn last line")
            try expectLines(try outcomes(in: text), Array(repeating: .ok, count: Self.killLines))

            // Nothing in the output when a run started was sent by that run.
            var resent = 0
            var sentBefore: Set<String> = []
            for (run, records) in recordSlices.enumerated() {
                let keys = records.compactMap { $0.model.map { "k" + $0.dropFirst("fm-".count) } }
                let again = keys.filter { doneBefore[run].contains($0) }
                #expect(again.isEmpty, "run \(run) sent lines already in the output: \(again.prefix(10))")
                let repeated = Set(keys).intersection(sentBefore)
                #expect(repeated.count <= Self.killConcurrency, "run \(run) resent \(repeated.count) lines; at most --concurrency were running at the kill")
                resent += repeated.count
                sentBefore.formUnion(keys)
            }
            // Every line's success was paid at least once; a second payment only for a call the kill interrupted.
            var paid: [String: Int] = [:]
            for record in recordSlices.joined() where record.status == 200 && !record.clientDisconnected {
                if let model = record.model { paid["k" + model.dropFirst("fm-".count), default: 0] += 1 }
            }
            #expect(paid.count == Self.killLines, "every line was answered by the server")
            let paidTwice = paid.values.reduce(0) { $0 + max(0, $1 - 1) }
            #expect(paidTwice <= resent, "a line is paid again only when it was re-sent after a kill")
        }
    }

    /// The output's newlines: its complete lines.
    static func newlines(_ dir: TempDir) -> Int {
        guard let data = FileManager.default.contents(atPath: dir.path("in.out.jsonl")) else { return 0 }
        return data.withUnsafeBytes { raw -> Int in
            guard var cursor = raw.baseAddress else { return 0 }
            let end = cursor + raw.count
            var count = 0
            while cursor < end, let found = memchr(cursor, 0x0A, end - cursor) {
                count += 1
                cursor = UnsafeRawPointer(found) + 1
            }
            return count
        }
    }

    /// The keys of the output's complete lines (a torn last line is not one).
    static func completeKeys(_ dir: TempDir) throws -> Set<String> {
        guard FileManager.default.fileExists(atPath: dir.path("in.out.jsonl")) else { return [] }
        var keys: Set<String> = []
        for line in try dir.read("in.out.jsonl").split(separator: "\n") {
            if case .object(let object)? = try? JSONParser.parse(String(line)), let key = object["key"]?.stringValue { keys.insert(key) }
        }
        return keys
    }

    // MARK: - Shared steps

    /// Runs `lines` to the end against a fresh fake server: exit 1 (some lines fail), each line's
    /// outcome as `expected`; then `afterwards` inspects the server.
    func runToTheEnd(_ lines: [String], expected: [RunExpect], arguments: [String] = [],
                     afterwards: (FakeLLMServer) async throws -> Void = { _ in }) async throws {
        try await withFakeServer { server in
            let dir = try TempDir()
            defer { dir.cleanup() }
            try writeInput(dir, lines, server: server)
            let result = try await VolleyProcess.run(["run", "in.jsonl", "--config", "config.json"] + arguments, in: dir)
            #expect(result.status == 1, "some lines failed: \(result.stderr)")
            try expectOutput(dir, expected)
            try await afterwards(server)
        }
    }

    /// Even lines succeed, odd ones fail with `kind`.
    func alternating(_ kind: String) -> [RunExpect] {
        (0..<Self.count).map { $0.isMultiple(of: 2) ? .ok : .failed(kind) }
    }
}

/// The rows of `volley run`'s column (stdin closed mid-line does not apply to a file).
enum RunFault: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case serverKilled = "server killed mid-batch"
    case resetMidBody = "connection reset mid-body"
    case headersNeverFinish = "headers that never finish"
    case bodyOverLimit = "body over the response limit"
    case brokenChunked = "garbage and truncated chunked encoding"
    case dnsFailure = "DNS failure"
    case descriptorExhaustion = "descriptor exhaustion"
    case hostNotReading = "host not reading stdout (-o -)"
    case sigterm = "SIGTERM mid-file, then resume"

    var testDescription: String { rawValue }
}

/// What one line must end with.
enum RunExpect: Equatable, CustomStringConvertible {
    case ok
    case failed(String)
    case okOr(String)

    var description: String {
        switch self {
        case .ok: "ok"
        case .failed(let kind): kind
        case .okOr(let kind): "ok or \(kind)"
        }
    }

    func matches(_ outcome: JSONObject) -> Bool {
        let ok = outcome["ok"] == true
        let kind = outcome["error"]?["kind"]?.stringValue
        switch self {
        case .ok: return ok
        case .failed(let want): return !ok && kind == want
        case .okOr(let want): return ok || kind == want
        }
    }
}

/// An item line for the fake server, keyed `k<index>`.
func runLine(_ index: Int, provider: String = "fake", fake: JSONObject = [:], maxTokens: Int = 16,
             model: String = "gpt-4o-mini", extra: JSONObject = [:]) -> String {
    var request: JSONObject = [
        "model": .string(model),
        "messages": [["role": "user", "content": .string("line \(index)")]],
        "max_tokens": JSONValue(maxTokens),
    ]
    if !fake.isEmpty { request["fake"] = .object(fake) }
    var item: JSONObject = ["key": .string("k\(index)"), "provider": .string(provider), "request": .object(request)]
    for (name, value) in extra { item[name] = value }
    return JSONValue.object(item).jsonString
}

/// Writes `in.jsonl` and a `config.json` whose provider `fake` calls `server` without retries.
func writeInput(_ dir: TempDir, _ lines: [String], server: FakeLLMServer, extraProviders: JSONObject = [:]) throws {
    try dir.write("in.jsonl", lines.joined(separator: "\n") + "\n")
    try writeConfig(dir, server: server, extraProviders: extraProviders)
}

/// (Re)writes `config.json` for `server`, readable by its owner only (it holds a key).
func writeConfig(_ dir: TempDir, server: FakeLLMServer, extraProviders: JSONObject = [:]) throws {
    var providers: JSONObject = [
        "fake": ["kind": "openai", "base_url": .string(server.baseURL + "/v1"), "api_key": "sk-fake", "retry": ["max_retries": 0]],
    ]
    for (name, value) in extraProviders { providers[name] = value }
    let path = try dir.write("config.json", JSONValue.object(["providers": .object(providers)]).jsonString)
    #expect(chmod(path, 0o600) == 0)
}

/// Reads `in.out.jsonl` and checks it; returns the outcomes by line index.
@discardableResult
func expectOutput(_ dir: TempDir, _ expected: [RunExpect], sourceLocation: SourceLocation = #_sourceLocation) throws -> [JSONObject] {
    let text = try dir.read("in.out.jsonl")
    #expect(text.hasSuffix("\n"), "whole lines only", sourceLocation: sourceLocation)
    return try expectLines(try outcomes(in: text), expected, sourceLocation: sourceLocation)
}

/// Each key `k0`... exactly once, its `line` matching, its outcome as `expected`; returns the
/// outcomes ordered by key index.
@discardableResult
func expectLines(_ outcomes: [JSONObject], _ expected: [RunExpect], sourceLocation: SourceLocation = #_sourceLocation) throws -> [JSONObject] {
    #expect(outcomes.count == expected.count, "one outcome line per input line", sourceLocation: sourceLocation)
    var byIndex = [JSONObject?](repeating: nil, count: expected.count)
    var duplicates: [String] = []
    for outcome in outcomes {
        guard let key = outcome["key"]?.stringValue, key.hasPrefix("k"), let index = Int(key.dropFirst()), byIndex.indices.contains(index) else {
            Issue.record("an outcome for no line: \(outcome)", sourceLocation: sourceLocation)
            continue
        }
        if byIndex[index] != nil { duplicates.append(key) }
        byIndex[index] = outcome
        #expect(outcome["line"]?.intValue == index + 1, "\(outcome)", sourceLocation: sourceLocation)
    }
    #expect(duplicates.isEmpty, "keys written twice: \(duplicates.prefix(10))", sourceLocation: sourceLocation)
    let missing = byIndex.indices.filter { byIndex[$0] == nil }
    #expect(missing.isEmpty, "lines without an outcome: \(missing.prefix(20))", sourceLocation: sourceLocation)
    var wrong: [String] = []
    for (index, outcome) in byIndex.enumerated() {
        if let outcome, !expected[index].matches(outcome) { wrong.append("line \(index + 1): want \(expected[index]), got \(outcome)") }
    }
    #expect(wrong.isEmpty, "\(wrong.count) lines ended wrong: \(wrong.prefix(3))", sourceLocation: sourceLocation)
    return byIndex.map { $0 ?? [:] }
}
