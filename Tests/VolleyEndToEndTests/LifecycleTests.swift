import Foundation
import Testing
import VolleyCore
import VolleyTestSupport
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// stdin EOF, SIGTERM, shutdown and exit: every pending request is answered, exit codes hold.
@Suite("Lifecycle: EOF, signals, shutdown, exit", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct LifecycleTests {
    @Test("EOF with a gather in flight: its response is written, then exit code 0")
    func eofFinishesWorkInFlight() async throws {
        try await withVolley { volley in
            try volley.send(rpcRequest("gather", id: 1, params: ["requests": mockItems(3, latencyMs: 300)]))
            volley.closeStdin()
            #expect(try await volley.waitForExit() == .exited(0))
            let lines = volley.stdout.values
            #expect(lines.count == 1, "\(volley.stdout.summary())")
            let response = try #require(lines.first)
            #expect(response["id"] == 1)
            let results = response["result"]?["results"]?.arrayValue ?? []
            #expect(results.count == 3)
            #expect(results.allSatisfy { $0["ok"] == true }, "finished, not cancelled: \(response.jsonString)")
        }
    }

    @Test("EOF while shutdown {drain} waits: the work and the shutdown are both answered, exit 0")
    func eofDuringShutdown() async throws {
        try await withVolley { volley in
            try volley.send(rpcRequest("gather", id: "work", params: ["requests": mockItems(2, latencyMs: 200)]))
            try volley.send(rpcRequest("shutdown", id: "bye"))
            volley.closeStdin()
            #expect(try await volley.waitForExit() == .exited(0))
            let values = volley.stdout.values
            #expect(values.count == 2)
            #expect(values.first?["id"] == "work")
            #expect(values.first?["result"]?["stats"]?["succeeded"] == 2)
            #expect(values.last == ["jsonrpc": "2.0", "id": "bye", "result": .null])
        }
    }

    @Test("EOF right after many quick requests: every one is answered before exit")
    func eofAnswersQuickRequests() async throws {
        try await withVolley { volley in
            // One write holding all the requests and then EOF: the reader sees EOF while the
            // handlers of the last requests may not have answered yet.
            var text = ""
            for index in 0..<300 {
                let method = ["ping", "stats", "configure", "cancel", "no_such_method"][index % 5]
                let params: JSONValue = method == "cancel" ? ["id": "nothing"] : (method == "configure" ? ["default_provider": "mock"] : [:])
                text += rpcRequest(method, id: JSONValue(index), params: params).jsonString + "\n"
            }
            try volley.sendBytes(Array(text.utf8))
            volley.closeStdin()
            #expect(try await volley.waitForExit() == .exited(0))
            let answered = Set(volley.stdout.values.compactMap { $0["id"]?.intValue })
            let missing = Set(0..<300).subtracting(answered)
            #expect(missing.isEmpty, "requests never answered before exit: \(missing.sorted().prefix(20)) (\(missing.count) of 300)")
            #expect(volley.stdout.count == 300)
        }
    }

    @Test("SIGTERM: every pending request is answered -32800, then exit code 0")
    func sigtermAnswersPendingRequests() async throws {
        try await withVolley { volley in
            let slow: JSONObject = ["latency_ms": 60_000]
            try volley.send(rpcRequest("gather", id: "g", params: ["requests": [mockItem(key: "a", mock: slow), mockItem(key: "b", mock: ["latency_ms": 0])]]))
            try volley.send(rpcRequest("as_completed", id: "ac", params: ["requests": [mockItem(key: "c", mock: slow), mockItem(key: "d", mock: slow)]]))
            try volley.send(rpcRequest("call", id: "c", params: mockItem(key: "e", mock: slow)))
            // A ping answered means every earlier line was read and its request registered.
            _ = try await volley.request("ping", id: "barrier")
            volley.signal(SIGTERM)
            #expect(try await volley.waitForExit() == .exited(0))

            let values = volley.stdout.values
            let gather = try #require(values.first { isResponse($0, id: "g") })
            #expect(gather.errorCode == -32800)
            let gatherResults = gather.errorData?["results"]?.arrayValue ?? []
            #expect(gatherResults.count == 2, "every item accounted for: \(gather.jsonString)")
            #expect(gatherResults.first { $0["key"] == "a" }?["error"]?["kind"] == "cancelled")
            #expect(gather.errorData?["stats"]?["cancelled"]?.intValue ?? 0 >= 1)

            let asCompleted = try #require(values.first { isResponse($0, id: "ac") })
            #expect(asCompleted.errorCode == -32800)
            #expect(asCompleted.errorData?["results"] == [])
            let items = values.filter { $0.isNotification("item") && $0["params"]?["request"] == "ac" }
            #expect(items.count == 2)
            #expect(items.allSatisfy { $0["params"]?["error"]?["kind"] == "cancelled" })

            let call = try #require(values.first { isResponse($0, id: "c") })
            #expect(call.errorCode == -32800)
            #expect(call.errorData?["error"]?["kind"] == "cancelled")
        }
    }

    @Test("SIGTERM while a shutdown is waiting for work: both are answered")
    func sigtermDuringShutdown() async throws {
        try await withVolley { volley in
            try volley.send(rpcRequest("gather", id: "g", params: ["requests": mockItems(2, latencyMs: 60_000)]))
            try volley.send(rpcRequest("shutdown", id: "s", params: ["mode": "drain"]))
            // After `shutdown`, requests are refused: this answer proves both lines were read.
            let refused = try await volley.request("ping", id: "barrier")
            #expect(refused.errorCode == -32600)
            volley.signal(SIGTERM)
            #expect(try await volley.waitForExit() == .exited(0))
            let values = volley.stdout.values
            #expect(values.first { isResponse($0, id: "g") }?.errorCode == -32800)
            #expect(values.first { isResponse($0, id: "s") }?["result"] == .null, "the shutdown request was answered: \(volley.stdout.summary())")
        }
    }

    @Test("shutdown {drain}: null after the work settles; later requests -32600; exit → 0")
    func shutdownDrain() async throws {
        try await withVolley { volley in
            try volley.send(rpcRequest("gather", id: "work", params: ["requests": mockItems(4, latencyMs: 200)]))
            try volley.send(rpcRequest("shutdown", id: "bye", params: ["mode": "drain"]))
            // A request on the very next line is already refused, while the work still runs.
            #expect(try await volley.request("ping", id: "right-after").errorCode == -32600)
            let shutdownIndex = try await volley.responseIndex(to: "bye")
            #expect(volley.stdout.lines[shutdownIndex].value?["result"] == .null)
            let workIndex = try await volley.responseIndex(to: "work")
            #expect(workIndex < shutdownIndex, "the work was answered before shutdown's null")
            let work = try requireValue(volley.stdout.lines[workIndex].value)
            #expect(work["result"]?["results"]?.arrayValue?.allSatisfy { $0["ok"] == true } == true, "drained, not cancelled")

            let late = try await volley.request("gather", id: "late", params: ["requests": mockItems(1, latencyMs: 0)])
            #expect(late.errorCode == -32600)
            #expect(try await volley.request("ping", id: "late-ping").errorCode == -32600)
            try volley.notify("exit")
            #expect(try await volley.waitForExit() == .exited(0))
        }
    }

    @Test("exit without shutdown ends with code 1, answering the work it cancels")
    func exitWithoutShutdown() async throws {
        try await withVolley { volley in
            _ = try await volley.request("ping", id: 1)
            try volley.notify("exit")
            #expect(try await volley.waitForExit() == .exited(1))
        }
        try await withVolley { volley in
            try volley.send(rpcRequest("gather", id: "work", params: ["requests": mockItems(2, latencyMs: 60_000)]))
            try volley.notify("exit")
            #expect(try await volley.waitForExit() == .exited(1))
            #expect(volley.stdout.values.first { isResponse($0, id: "work") }?.errorCode == -32800)
            #expect(volley.stdout.count == 1)
        }
    }

    @Test("shutdown {cancel} cancels running work (-32800), then answers null; exit → 0")
    func shutdownCancel() async throws {
        try await withVolley { volley in
            try volley.send(rpcRequest("gather", id: "work", params: ["requests": mockItems(3, latencyMs: 60_000)]))
            try volley.send(rpcRequest("as_completed", id: "stream", params: ["requests": mockItems(2, latencyMs: 60_000)]))
            let shutdown = try await volley.request("shutdown", id: "bye", params: ["mode": "cancel"])
            #expect(shutdown["result"] == .null)
            let shutdownIndex = try await volley.responseIndex(to: "bye")
            let work = try await volley.response(to: "work")
            #expect(work.errorCode == -32800)
            #expect(work.errorData?["results"]?.arrayValue?.count == 3)
            #expect(work.errorData?["results"]?.arrayValue?.allSatisfy { $0["error"]?["kind"] == "cancelled" } == true)
            #expect(work.errorData?["stats"]?["cancelled"] == 3)
            #expect(try await volley.responseIndex(to: "work") < shutdownIndex)
            #expect(try await volley.responseIndex(to: "stream") < shutdownIndex)
            try volley.notify("exit")
            #expect(try await volley.waitForExit() == .exited(0))
        }
    }

    @Test("shutdown with a bad mode is -32602 and shuts nothing down")
    func shutdownBadMode() async throws {
        try await withVolley { volley in
            #expect(try await volley.request("shutdown", id: 1, params: ["mode": "later"]).errorCode == -32602)
            #expect(try await volley.request("ping", id: 2)["result"] == [:])
            try volley.notify("exit")
            #expect(try await volley.waitForExit() == .exited(1))
        }
    }
}

/// More ways to end: EPIPE, SIGINT, signals when idle, `exit` as a request, start-up config.
@Suite("Lifecycle: broken stdout, SIGINT, start-up config", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct MoreLifecycleTests {
    @Test("stdout broken (EPIPE): work is cancelled and the exit code is 1")
    func brokenStdout() async throws {
        try await withVolley(readStdout: false) { volley in
            try volley.send(rpcRequest("gather", id: "slow", params: ["requests": mockItems(3, latencyMs: 60_000)]))
            try await volley.discardStdout()
            // The answer to this ping is the first write to the broken pipe.
            try volley.send(rpcRequest("ping", id: "p"))
            #expect(try await volley.waitForExit() == .exited(1))
        }
    }

    @Test("SIGTERM and SIGINT cancel pending work, answer it, and exit 0", arguments: [SIGTERM, SIGINT])
    func signals(signal: Int32) async throws {
        try await withVolley { volley in
            try volley.send(rpcRequest("as_completed", id: 1, params: ["requests": mockItems(2, latencyMs: 60_000)]))
            _ = try await volley.request("ping", id: "barrier")
            volley.signal(signal)
            #expect(try await volley.waitForExit() == .exited(0))
            #expect(volley.stdout.values.first { isResponse($0, id: 1) }?.errorCode == -32800)
        }
    }

    @Test("SIGTERM as soon as the first answer is out is never lost (20 processes)")
    func sigtermRightAfterStart() async throws {
        // The signal is sent the moment the sidecar has answered its first request: with a
        // handler armed asynchronously, it could arrive before the handler and vanish, and the
        // process then ran on with its work (a 60 s item) instead of exiting.
        try await withThrowingTaskGroup(of: ExitStatus.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await withVolley { volley in
                        try volley.send(rpcRequest("gather", id: 1, params: ["requests": mockItems(1, latencyMs: 60_000)]))
                        _ = try await volley.request("ping", id: "barrier")
                        volley.signal(SIGTERM)
                        let status = try await volley.waitForExit(timeout: 20)
                        #expect(volley.stdout.values.first { isResponse($0, id: 1) }?.errorCode == -32800)
                        return status
                    }
                }
            }
            for try await status in group {
                #expect(status == .exited(0))
            }
        }
    }

    @Test("SIGTERM with nothing running exits 0 at once")
    func sigtermIdle() async throws {
        try await withVolley { volley in
            _ = try await volley.request("ping", id: 1)
            volley.signal(SIGTERM)
            #expect(try await volley.waitForExit() == .exited(0))
            #expect(volley.stdout.count == 1)
        }
    }

    @Test("exit sent as a request is answered null, then honoured (code 1 without shutdown)")
    func exitAsRequest() async throws {
        try await withVolley { volley in
            let reply = try await volley.request("exit", id: "bye")
            #expect(reply["result"] == .null)
            #expect(try await volley.waitForExit() == .exited(1))
        }
    }

    @Test("shutdown and exit back to back: shutdown is answered, exit code 0, whatever the timing")
    func shutdownAndExitBackToBack() async throws {
        try await withVolley { volley in
            // In one batch array: `exit` is handled before shutdown's task has even run.
            try volley.sendLine(#"[{"jsonrpc":"2.0","id":1,"method":"shutdown"},{"jsonrpc":"2.0","method":"exit"}]"#)
            #expect(try await volley.waitForExit() == .exited(0))
            #expect(volley.stdout.values == [[["jsonrpc": "2.0", "id": 1, "result": .null]]])
        }
        try await withVolley { volley in
            // On two lines with work running: exit cancels it; every request is still answered.
            try volley.send(rpcRequest("gather", id: "work", params: ["requests": mockItems(2, latencyMs: 60_000)]))
            try volley.send(rpcRequest("shutdown", id: "bye", params: ["mode": "drain"]))
            try volley.notify("exit")
            #expect(try await volley.waitForExit() == .exited(0))
            #expect(volley.stdout.values.first { isResponse($0, id: "work") }?.errorCode == -32800)
            #expect(volley.stdout.values.first { isResponse($0, id: "bye") }?["result"] == .null)
            #expect(volley.stdout.count == 2)
        }
    }

    @Test("command line: --version matches initialize's server.version and protocol_version, and says how it was built; bad flags exit 2 naming the flag")
    func commandLine() async throws {
        let printed = try await withVolley(arguments: ["--version"]) { volley in
            let status = try await volley.waitForExit()
            #expect(status == .exited(0))
            return volley.stdout.lines.map(\.text)
        }
        try await withVolley { volley in
            let initialize = try await volley.request("initialize", id: 1)
            // The version alone on the first line: what scripts read.
            #expect(initialize["result"]?["server"]?["version"] == .string(printed.first ?? ""))
            let protocolVersion = initialize["result"]?["protocol_version"]?.intValue
            #expect(printed.contains("protocol: \(protocolVersion ?? -1)"), "\(printed)")
        }
        // The tests run a development build; a packaged one names its commit and toolchain instead.
        #expect(printed.contains { $0.hasPrefix("build: development") }, "\(printed)")
        for (arguments, flag) in [(["--log-level", "loud"], "--log-level"), (["--max-line-bytes", "10"], "--max-line-bytes"),
                                  (["--log-format", "xml"], "--log-format"), (["--max-items-per-batch", "0"], "--max-items-per-batch"),
                                  (["--bogus"], "--bogus"), (["serve", "--bogus"], "--bogus"), (["run", "--bogus", "x"], "--bogus")] {
            try await withVolley(arguments: arguments) { volley in
                let status = try await volley.waitForExit()
                #expect(status == .exited(2), "\(arguments): the same code for a bad command line, whatever the subcommand")
                #expect(volley.stderrText.contains(flag), "\(volley.stderrText)")
                #expect(volley.stdout.count == 0, "stdout carries protocol messages only")
            }
        }
    }

    @Test("--config FILE: providers from the file; a bad file exits 2 with a message on stderr")
    func configFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("volley-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("good.json")
        try Data(#"{"providers":{"fast":{"kind":"mock","latency_ms":0}},"default_provider":"fast"}"#.utf8).write(to: good)
        let bad = directory.appendingPathComponent("bad.json")
        try Data(#"{"providers":{"fast":{"kind":"mock","bogus":1}}}"#.utf8).write(to: bad)

        try await withVolley(arguments: ["--config", good.path]) { volley in
            let initialize = try await volley.request("initialize", id: 1)
            #expect(initialize["result"]?["capabilities"]?["default_provider"] == "fast")
            let call = try await volley.request("call", id: 2, params: ["request": ["messages": [["role": "user", "content": "f"]]]])
            #expect(call["result"]?["text"] == "Mock reply to: f")
        }
        // A provider that would call an API without a key is accepted, and said at start-up.
        let keyless = directory.appendingPathComponent("keyless.json")
        try Data(#"{"providers":{"gw":{"kind":"openai","base_url":"http://127.0.0.1:9/v1","api_key_env":"NOT_SET_ANYWHERE"}}}"#.utf8)
            .write(to: keyless)
        try await withVolley(arguments: ["--config", keyless.path]) { volley in
            #expect(try await volley.request("ping", id: 1)["result"] == [:])
            volley.closeStdin()
            _ = try await volley.waitForExit()
            #expect(volley.stderrText.contains(#"provider "gw" has no API key (NOT_SET_ANYWHERE is not set"#), "\(volley.stderrText)")
        }
        for path in [bad.path, directory.appendingPathComponent("missing.json").path] {
            try await withVolley(arguments: ["--config", path]) { volley in
                let status = try await volley.waitForExit()
                #expect(status == .exited(2))
                #expect(volley.stderrText.contains(path), "names the file: \(volley.stderrText)")
                #expect(volley.stdout.count == 0)
            }
        }
    }
}
