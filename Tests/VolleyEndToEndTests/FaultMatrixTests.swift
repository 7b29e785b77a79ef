import FakeLLM
import FakeLLMTestSupport
import Foundation
import Testing
import VolleyCore
import VolleyTestSupport
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Issue 20's fault matrix through the built binary, RPC columns (`volley run`'s column is
/// `FaultMatrixRunTests` in VolleyRunTests): each cell injects one fault while items are in
/// flight and ends with every item's outcome exactly once (by index, with the error kind the
/// fault must give) and the sidecar still answering `ping`, or exited as documented.
@Suite("Fault matrix: faults × gather, as_completed, call", .timeLimit(.minutes(3)), .tags(.endToEnd))
struct FaultMatrixTests {
    @Test("every item accounted for exactly once, then ping or the documented exit", arguments: Fault.allCases, MatrixMode.allCases)
    func cell(_ fault: Fault, _ mode: MatrixMode) async throws {
        switch fault {
        case .serverKilled: try await serverKilled(mode)
        case .resetMidBody: try await resetMidBody(mode)
        case .headersNeverFinish: try await headersNeverFinish(mode)
        case .bodyOverLimit: try await bodyOverLimit(mode)
        case .brokenChunked: try await brokenChunked(mode)
        case .dnsFailure: try await dnsFailure(mode)
        case .descriptorExhaustion: try await descriptorExhaustion(mode)
        case .hostNotReading: try await hostNotReading(mode)
        case .sigtermMidReply: try await sigtermMidReply(mode)
        case .stdinClosedMidLine: try await stdinClosedMidLine(mode)
        }
    }

    static let count = 20

    // MARK: - Rows

    /// The server goes away with half the items waiting for their headers: those end
    /// `connection`, the answered half keeps its successes.
    func serverKilled(_ mode: MatrixMode) async throws {
        let items = (0..<Self.count).map { $0.isMultiple(of: 2) ? faultItem($0) : faultItem($0, fake: ["mode": "stall_headers"]) }
        let expected = (0..<Self.count).map { $0.isMultiple(of: 2) ? Expect.ok : .failed("connection") }
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "k"]) { volley in
                try await configureFake(volley, server)
                let submission = try Submission.send(items, mode: mode, id: "killed", to: volley)
                let half = Self.count / 2
                try await server.waitForStats { $0.responsesCompleted == half && $0.inFlight == half }
                try await server.shutdown()
                expectOutcomes(try await submission.outcomes(volley), expected)
                try await expectServing(volley, submission)
            }
        }
    }

    /// TCP RST after part of the body (`reset`), or after some SSE events (`reset_stream`).
    func resetMidBody(_ mode: MatrixMode) async throws {
        let items = (0..<Self.count).map { index in
            switch index % 4 {
            case 1: faultItem(index, fake: ["mode": "reset"])
            case 3: faultItem(index, fake: ["mode": "reset_stream"], extra: ["stream": true])
            default: faultItem(index)
            }
        }
        let expected = (0..<Self.count).map { $0.isMultiple(of: 2) ? Expect.ok : .failed("connection") }
        try await runAgainstFake(mode, items: items, expected: expected)
    }

    /// A request whose headers never come ends by its item `timeout`, and its transfer is
    /// aborted (the server sees the client leave).
    func headersNeverFinish(_ mode: MatrixMode) async throws {
        let items = (0..<Self.count).map {
            $0.isMultiple(of: 2) ? faultItem($0) : faultItem($0, fake: ["mode": "stall_headers"], extra: ["timeout": 0.5])
        }
        let expected = (0..<Self.count).map { $0.isMultiple(of: 2) ? Expect.ok : .failed("timeout") }
        try await runAgainstFake(mode, items: items, expected: expected) { server in
            let stalled = Self.count / 2
            try await server.waitForStats { $0.clientDisconnectsBeforeResponseEnd == stalled && $0.inFlight == 0 }
        }
    }

    /// A body over `--max-response-bytes` (64 KiB here) is a `provider_error`, not retried.
    func bodyOverLimit(_ mode: MatrixMode) async throws {
        // 20,000 filler words: about 128 KB of body.
        let items = (0..<Self.count).map {
            $0.isMultiple(of: 2) ? faultItem($0) : faultItem($0, fake: ["output_tokens": 20_000], maxTokens: 20_000)
        }
        let expected = (0..<Self.count).map { $0.isMultiple(of: 2) ? Expect.ok : .failed("provider_error") }
        let outcomes = try await runAgainstFake(mode, items: items, expected: expected, arguments: ["--max-response-bytes", "65536"])
        for index in stride(from: 1, to: Self.count, by: 2) {
            #expect(outcomes[index].message.contains("exceeded 65536 bytes"), "\(outcomes[index].raw.jsonString)")
        }
    }

    /// Chunked encoding that breaks mid-body: a size line that is not hexadecimal
    /// (`garbage_chunked`), a chunk cut short before the connection closes (`truncated_chunked`);
    /// plain JSON bodies and SSE streams alike.
    func brokenChunked(_ mode: MatrixMode) async throws {
        let items = (0..<Self.count).map { index -> JSONValue in
            let stream: JSONObject = index % 8 >= 4 ? ["stream": true] : [:]
            switch index % 4 {
            case 1: return faultItem(index, fake: ["mode": "garbage_chunked"], extra: stream)
            case 3: return faultItem(index, fake: ["mode": "truncated_chunked"], extra: stream)
            default: return faultItem(index)
            }
        }
        let expected = (0..<Self.count).map { $0.isMultiple(of: 2) ? Expect.ok : .failed("connection") }
        let outcomes = try await runAgainstFake(mode, items: items, expected: expected)
        for index in stride(from: 1, to: Self.count, by: 4) {
            #expect(outcomes[index].message.contains("chunked-encoding"), "\(outcomes[index].raw.jsonString)")
        }
    }

    /// A host that does not resolve fails at once as `connection`, retried as its policy says
    /// (one retry here), never hanging; the other items are untouched.
    func dnsFailure(_ mode: MatrixMode) async throws {
        let items = (0..<Self.count).map { $0.isMultiple(of: 2) ? faultItem($0) : faultItem($0, provider: "nowhere") }
        let expected = (0..<Self.count).map { $0.isMultiple(of: 2) ? Expect.ok : .failed("connection") }
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "k"]) { volley in
                var providers = try requireValue(fakeProviders(server).objectValue)
                providers["nowhere"] = [
                    "kind": "openai", "base_url": "http://nonexistent.invalid/v1", "api_key_env": .string(fakeKeyEnv),
                    "retry": ["max_retries": 1, "initial_delay": 0.01, "max_delay": 0.05],
                    // This machine's resolver sometimes answers only after its 5 s timeout: the
                    // connect phase ends first (`ResolverHangTests`: without stopping anything else).
                    "timeouts": ["connect": 1],
                ]
                let configured = try await volley.request("configure", id: "cfg", params: ["providers": .object(providers)])
                #expect(configured["result"] != nil, "\(configured.jsonString)")
                let submission = try Submission.send(items, mode: mode, id: "dns", to: volley)
                let outcomes = try await submission.outcomes(volley)
                expectOutcomes(outcomes, expected)
                for index in stride(from: 1, to: Self.count, by: 2) {
                    let outcome = outcomes[index]
                    #expect(outcome.attempts == 2, "retried once, as configured: \(outcome.raw.jsonString)")
                    #expect(outcome.message.lowercased().contains("resolv"), "\(outcome.raw.jsonString)")
                    if let latency = outcome.latencyMs { #expect(latency < 4_000, "failed fast: \(outcome.raw.jsonString)") }
                }
                #expect(server.stats().requests == Self.count / 2)
                try await expectServing(volley, submission)
            }
        }
    }

    static let descriptorItems = 1_000

    /// 1,000 items at once under a hard limit of 64 open files (the sidecar cannot raise it):
    /// a connection that cannot get a descriptor is a `connection` failure, every success the
    /// server paid for is reported, and the sidecar goes on serving.
    func descriptorExhaustion(_ mode: MatrixMode) async throws {
        let total = Self.descriptorItems
        let items = (0..<total).map { faultItem($0, fake: ["latency_ms": 200]) }
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(arguments: ["--max-connections-per-host", "\(total)"], environment: [fakeKeyEnv: "k"],
                                 launcher: VolleyProcess.openFilesLimit(64)) { volley in
                let configured = try await volley.request("configure", id: "cfg", params: [
                    "providers": fakeProviders(server, extra: ["limits": ["concurrency": .number(JSONNumber(total))]]),
                ])
                #expect(configured["result"] != nil, "\(configured.jsonString)")
                let submission = try Submission.send(items, mode: mode, id: "fds", to: volley, batchConcurrency: total)
                let outcomes = try await submission.outcomes(volley, timeout: 60)
                expectOutcomes(outcomes, Array(repeating: .okOr("connection"), count: total))
                let succeeded = outcomes.count { $0.ok }
                #expect(succeeded > 0, "some connections fit under the limit")
                #expect(succeeded < total, "the limit was reached")
                // Every success is one response the server wrote, and nothing else got one.
                let settled = try await server.waitForStats { $0.inFlight == 0 }
                #expect(settled.responsesCompleted == succeeded)
                try await expectServing(volley, submission)
                // Not wedged: the pool still serves a batch.
                let after = try await volley.request("gather", id: "after", params: ["requests": .array((0..<5).map { faultItem($0) })])
                #expect(after["result"]?["stats"]?["succeeded"] == 5, "\(after.jsonString.prefix(500))")
            }
        }
    }

    /// An item whose outcome is about 1.3 MB (100,000 reply words, and the raw body again), or
    /// 0.64 MB with `words` 50,000.
    static func bigItem(_ index: Int, words: Int = 100_000) -> JSONValue {
        faultItem(index, fake: ["output_tokens": JSONValue(words)], maxTokens: words, extra: ["raw": true])
    }

    /// The host stops reading stdout while outcomes of about 13 MB are produced: the writer
    /// blocks, the queue passes its 8 MiB high watermark and admission pauses (as_completed and
    /// call: items are left unsent), and once the host reads again every outcome arrives, once.
    func hostNotReading(_ mode: MatrixMode) async throws {
        // gather writes nothing before its end: two big outcomes block its one response. In the
        // other modes every outcome is 0.64 MB, so whatever order the items start in, the 14th
        // passes the watermark and at most 17 (the 15th, maybe, and 2 in flight) are ever sent.
        let items = (0..<Self.count).map { index -> JSONValue in
            if mode == .gather { return index < 2 ? Self.bigItem(index) : faultItem(index) }
            return Self.bigItem(index, words: 50_000)
        }
        let beforeThePause = 14
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "k"], readStdout: false) { volley in
                // Applied before the next line is read; its answer waits in the pipe like the rest.
                try volley.send(rpcRequest("configure", id: "cfg", params: [
                    "providers": fakeProviders(server, extra: ["limits": ["concurrency": 2]]),
                ]))
                let submission = try Submission.send(items, mode: mode, id: "unread", to: volley)
                if mode == .gather {
                    try await server.waitForStats { $0.responsesCompleted == Self.count }
                    await waitUntil("the sidecar blocks writing the gather response") { volley.isBlockedWritingStdout() != false }
                } else {
                    // That many are done before the pause can start (it needs 8 MiB queued).
                    try await server.waitForStats { $0.responsesCompleted >= beforeThePause }
                    await waitUntil("admission paused: nothing in flight, every sidecar thread asleep") {
                        server.stats().inFlight == 0 && volley.allThreadsSleeping() != false && volley.isBlockedWritingStdout() != false
                    }
                    #expect(server.stats().requests < Self.count, "admission paused while the host was not reading")
                }
                volley.startReadingStdout()
                #expect(try await volley.response(to: "cfg")["result"] != nil)
                expectOutcomes(try await submission.outcomes(volley, timeout: 60), Array(repeating: .ok, count: Self.count))
                #expect(server.stats().requests == Self.count)
                try await expectServing(volley, submission)
                #expect(volley.stdout.unparseableLines.isEmpty)
            }
        }
    }

    /// SIGTERM while the writer is blocked in the middle of a 1.3 MB reply (the host is not
    /// reading) and other items wait for headers: as documented, the pending work is cancelled and
    /// answered, everything is flushed once the host reads, no line is torn, and the exit code is 0.
    func sigtermMidReply(_ mode: MatrixMode) async throws {
        // gather: the big reply is a finished batch's response; the stalled items are a second
        // batch (keyed from k0). Otherwise they follow the big item in one request.
        let first = mode == .gather ? 0 : 1
        let stalled = (first..<first + Self.count - 1).map { faultItem($0, fake: ["mode": "stall_headers"]) }
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "k"], readStdout: false) { volley in
                try volley.send(rpcRequest("configure", id: "cfg", params: ["providers": fakeProviders(server)]))
                let big: Submission
                let pending: Submission
                if mode == .gather {
                    big = try Submission.send([Self.bigItem(0)], mode: mode, id: "big", to: volley)
                    pending = try Submission.send(stalled, mode: mode, id: "pending", to: volley)
                } else {
                    big = try Submission.send([Self.bigItem(0)] + stalled, mode: mode, id: "mixed", to: volley)
                    pending = big
                }
                let stalledCount = stalled.count
                try await server.waitForStats { $0.responsesCompleted == 1 && $0.inFlight == stalledCount }
                await waitUntil("the sidecar blocks writing the big reply") { volley.isBlockedWritingStdout() == true }
                volley.signal(SIGTERM)
                // The signal is handled while the reply is still unread: the pending transfers end.
                try await server.waitForStats { $0.clientDisconnectsBeforeResponseEnd == stalledCount }
                #expect(volley.isBlockedWritingStdout() != false, "still in the middle of the big reply")
                volley.startReadingStdout()
                #expect(try await volley.waitForExit() == .exited(0))
                #expect(volley.stdout.unparseableLines.isEmpty, "no torn line")
                #expect(volley.stdout.values.first { isResponse($0, id: "cfg") }?["result"] != nil)
                if mode == .gather {
                    expectOutcomes(try await big.outcomes(volley), [.ok])
                    expectOutcomes(try await pending.outcomes(volley), Array(repeating: .failed("cancelled"), count: stalledCount))
                    big.expectAnsweredOnce(volley)
                } else {
                    expectOutcomes(try await big.outcomes(volley), [.ok] + Array(repeating: .failed("cancelled"), count: stalledCount))
                }
                pending.expectAnsweredOnce(volley)
            }
        }
    }

    /// stdin ends in the middle of a line while items are in flight: the fragment is answered
    /// `-32700` (id null), the work in flight is finished and answered, and the exit code is 0.
    func stdinClosedMidLine(_ mode: MatrixMode) async throws {
        let items = (0..<Self.count).map { faultItem($0, fake: ["latency_ms": 300]) }
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "k"]) { volley in
                try await configureFake(volley, server)
                let submission = try Submission.send(items, mode: mode, id: "eof", to: volley)
                // Every item has reached the server (a count that only grows: no moment to miss).
                let itemCount = Self.count
                try await server.waitForStats { $0.requests == itemCount }
                // Cut inside a multi-byte character, in the middle of a request.
                let cut = Array(#"{"jsonrpc":"2.0","id":"cut","method":"\#(mode.method)","params":{"requests":[{"key":"#.utf8) + [0xC3]
                try volley.sendBytes(cut)
                volley.closeStdin()
                #expect(try await volley.waitForExit() == .exited(0))
                expectOutcomes(try await submission.outcomes(volley), Array(repeating: .ok, count: Self.count))
                submission.expectAnsweredOnce(volley)
                let parseErrors = volley.stdout.values.filter { $0.errorCode == -32700 }
                #expect(parseErrors.count == 1 && parseErrors.first?["id"] == .null, "\(volley.stdout.summary())")
                #expect(!volley.stdout.values.contains { isResponse($0, id: "cut") })
                #expect(volley.stdout.unparseableLines.isEmpty)
            }
        }
    }

    // MARK: - Shared steps

    /// Runs `items` in `mode` against a fresh fake server and checks their outcomes; `afterwards`
    /// inspects the server. Returns the outcomes by index.
    @discardableResult
    func runAgainstFake(
        _ mode: MatrixMode, items: [JSONValue], expected: [Expect], arguments: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation,
        afterwards: (FakeLLMServer) async throws -> Void = { _ in }
    ) async throws -> [ItemOutcome] {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(arguments: arguments, environment: [fakeKeyEnv: "k"]) { volley in
                try await configureFake(volley, server)
                let submission = try Submission.send(items, mode: mode, id: "cell", to: volley)
                let outcomes = try await submission.outcomes(volley)
                expectOutcomes(outcomes, expected, sourceLocation: sourceLocation)
                try await afterwards(server)
                try await expectServing(volley, submission, sourceLocation: sourceLocation)
                return outcomes
            }
        }
    }

    /// The sidecar answers `ping`; then the whole transcript is checked for answers given twice.
    func expectServing(_ volley: VolleyProcess, _ submission: Submission,
                       sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let pong = try await volley.request("ping", id: "still-there")
        #expect(pong["result"] == [:], "\(pong.jsonString)", sourceLocation: sourceLocation)
        submission.expectAnsweredOnce(volley, sourceLocation: sourceLocation)
    }
}

// MARK: - The matrix's axes

/// The rows: what goes wrong.
enum Fault: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case serverKilled = "server killed mid-batch"
    case resetMidBody = "connection reset mid-body"
    case headersNeverFinish = "headers that never finish"
    case bodyOverLimit = "body over the response limit"
    case brokenChunked = "garbage and truncated chunked encoding"
    case dnsFailure = "DNS failure"
    case descriptorExhaustion = "descriptor exhaustion"
    case hostNotReading = "host not reading stdout"
    case sigtermMidReply = "SIGTERM while writing a large reply"
    case stdinClosedMidLine = "stdin closed mid-line"

    var testDescription: String { rawValue }
}

/// The columns: how the host asked.
enum MatrixMode: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case gather
    case asCompleted = "as_completed"
    case call

    var method: String { rawValue }
    var testDescription: String { rawValue }
}

/// What one item must end with.
enum Expect: Equatable, CustomStringConvertible {
    case ok
    case failed(String)
    /// Either a success or this error kind (descriptor exhaustion: which ones fit is not fixed).
    case okOr(String)

    var description: String {
        switch self {
        case .ok: "ok"
        case .failed(let kind): kind
        case .okOr(let kind): "ok or \(kind)"
        }
    }

    func matches(_ outcome: ItemOutcome) -> Bool {
        switch self {
        case .ok: outcome.ok
        case .failed(let kind): !outcome.ok && outcome.kind == kind
        case .okOr(let kind): outcome.ok || outcome.kind == kind
        }
    }
}

/// One item's outcome, read from a batch result, an `item` notification or a `call` answer.
struct ItemOutcome {
    var ok: Bool
    var kind: String?
    var attempts: Int?
    var message: String
    var latencyMs: Double?
    var raw: JSONValue

    /// From an outcome object (`results` member or `item` notification params).
    init(outcome: JSONValue) {
        ok = outcome["ok"] == true
        kind = outcome["error"]?["kind"]?.stringValue
        attempts = outcome["attempts"]?.intValue
        message = outcome["error"]?["message"]?.stringValue ?? ""
        latencyMs = outcome["latency_ms"]?.doubleValue
        raw = outcome
    }

    /// From a `call` response: the value, `-32803` with the error as data, or `-32800` with it
    /// under `data.error`.
    init(callResponse response: JSONValue) {
        raw = response
        latencyMs = nil
        if response["result"] != nil {
            ok = true
            kind = nil
            attempts = nil
            message = ""
            return
        }
        ok = false
        let error = response.errorCode == -32800 ? response.errorData?["error"] : response.errorData
        kind = error?["kind"]?.stringValue
        attempts = error?["attempts"]?.intValue ?? response.errorData?["attempts"]?.intValue
        message = error?["message"]?.stringValue ?? ""
    }
}

/// Checks each outcome against what its item must end with.
func expectOutcomes(_ outcomes: [ItemOutcome], _ expected: [Expect], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(outcomes.count == expected.count, "one outcome per item", sourceLocation: sourceLocation)
    var mismatches: [String] = []
    for (index, (outcome, want)) in zip(outcomes, expected).enumerated() where !want.matches(outcome) {
        mismatches.append("item \(index): want \(want), got \(outcome.raw.jsonString.prefix(400))")
    }
    #expect(mismatches.isEmpty, "\(mismatches.count) items ended wrong: \(mismatches.prefix(5))", sourceLocation: sourceLocation)
}

/// An item for the fake server; `fake` scripts its answer, `extra` adds item fields.
func faultItem(_ index: Int, provider: String = "fake", fake: JSONObject = [:], maxTokens: Int = 16,
               extra: JSONObject = [:]) -> JSONValue {
    var request: JSONObject = [
        "model": "gpt-4o-mini",
        "messages": [["role": "user", "content": .string("item \(index)")]],
        "max_tokens": JSONValue(maxTokens),
    ]
    if !fake.isEmpty { request["fake"] = .object(fake) }
    var item: JSONObject = ["key": .string("k\(index)"), "provider": .string(provider), "request": .object(request)]
    for (name, value) in extra { item[name] = value }
    return .object(item)
}

/// A cell's requests: one gather or as_completed of every item, or one call per item.
struct Submission {
    let mode: MatrixMode
    let id: String
    let count: Int

    var batchID: JSONValue { .string(id) }

    func callID(_ index: Int) -> JSONValue { .string("\(id)-\(index)") }

    /// Sends `items` in `mode`; `batchConcurrency` sets a batch's `concurrency`.
    static func send(_ items: [JSONValue], mode: MatrixMode, id: String, to volley: VolleyProcess,
                     batchConcurrency: Int? = nil) throws -> Submission {
        let submission = Submission(mode: mode, id: id, count: items.count)
        switch mode {
        case .gather, .asCompleted:
            var params: JSONObject = ["requests": .array(items)]
            if let batchConcurrency { params["concurrency"] = JSONValue(batchConcurrency) }
            try volley.send(rpcRequest(mode.method, id: submission.batchID, params: .object(params)))
        case .call:
            var text = ""
            for (index, item) in items.enumerated() {
                text += rpcRequest("call", id: submission.callID(index), params: item).jsonString + "\n"
            }
            try volley.sendBytes(Array(text.utf8))
        }
        return submission
    }

    /// Waits for every answer and returns each item's outcome, by index. Each index must have
    /// exactly one outcome in what has been written so far.
    func outcomes(_ volley: VolleyProcess, timeout: Double = defaultTimeoutSeconds) async throws -> [ItemOutcome] {
        switch mode {
        case .gather:
            let response = try await volley.response(to: batchID, timeout: timeout)
            let results = try requireValue(response["result"]?["results"]?.arrayValue ?? response.errorData?["results"]?.arrayValue,
                                           "results of \(id): \(response.jsonString.prefix(500))")
            #expect(results.count == count, "gather answers every item")
            for (position, outcome) in results.enumerated() {
                #expect(outcome["index"]?.intValue == position && outcome["key"] == .string("k\(position)"), "in input order")
            }
            return results.map { ItemOutcome(outcome: $0) }
        case .asCompleted:
            let responseIndex = try await volley.responseIndex(to: batchID, timeout: timeout)
            let lines = volley.stdout.lines
            let response = try requireValue(lines[responseIndex].value)
            #expect((response["result"]?["results"] ?? response.errorData?["results"]) == [], "as_completed sends nothing twice")
            var found = [ItemOutcome?](repeating: nil, count: count)
            var duplicates: [Int] = []
            for line in lines[..<responseIndex] {
                guard let value = line.value, value.isNotification("item"), value["params"]?["request"] == batchID,
                      let params = value["params"], let index = params["index"]?.intValue, found.indices.contains(index) else { continue }
                if found[index] != nil { duplicates.append(index) }
                found[index] = ItemOutcome(outcome: params)
                #expect(params["key"] == .string("k\(index)"))
            }
            #expect(duplicates.isEmpty, "indexes notified twice: \(duplicates)")
            let missing = found.indices.filter { found[$0] == nil }
            #expect(missing.isEmpty, "indexes without an outcome before the response: \(missing.prefix(20))")
            return found.map { $0 ?? ItemOutcome(outcome: ["ok": false, "error": ["kind": "missing"]]) }
        case .call:
            var outcomes: [ItemOutcome] = []
            outcomes.reserveCapacity(count)
            for index in 0..<count {
                let response = try await volley.response(to: callID(index), timeout: timeout)
                outcomes.append(ItemOutcome(callResponse: response))
            }
            return outcomes
        }
    }

    /// Every request of the submission has exactly one answer in the whole transcript, and
    /// (as_completed) each index exactly one `item` notification, none after the response.
    func expectAnsweredOnce(_ volley: VolleyProcess, sourceLocation: SourceLocation = #_sourceLocation) {
        let values = volley.stdout.values
        switch mode {
        case .gather, .asCompleted:
            let answers = values.indices.filter { isResponse(values[$0], id: batchID) }
            #expect(answers.count == 1, "\(id) answered \(answers.count) times", sourceLocation: sourceLocation)
            if mode == .asCompleted, let answer = answers.first {
                var perIndex = [Int](repeating: 0, count: count)
                var late = 0
                for (position, value) in values.enumerated()
                where value.isNotification("item") && value["params"]?["request"] == batchID {
                    if let index = value["params"]?["index"]?.intValue, perIndex.indices.contains(index) { perIndex[index] += 1 }
                    if position > answer { late += 1 }
                }
                #expect(perIndex.allSatisfy { $0 == 1 }, "each index notified once: \(perIndex)", sourceLocation: sourceLocation)
                #expect(late == 0, "no item after the response", sourceLocation: sourceLocation)
            }
        case .call:
            var perCall: [JSONValue: Int] = [:]
            for value in values {
                guard value["method"] == nil, value["result"] != nil || value["error"] != nil, let id = value["id"] else { continue }
                perCall[id, default: 0] += 1
            }
            let wrong = (0..<count).filter { perCall[callID($0)] != 1 }
            #expect(wrong.isEmpty, "calls not answered exactly once: \(wrong.prefix(20))", sourceLocation: sourceLocation)
        }
    }
}
