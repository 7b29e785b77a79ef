import Foundation
import Testing
import VolleyJSON
import VolleyTestSupport

@testable import FakeLLM

/// Runs the built `volley-fake-llm` binary the way scripts do: port 0, read the one stdout line.
@Suite("volley-fake-llm command line", .timeLimit(.minutes(1)))
struct CommandLineTests {
    /// The built binary (beside the test bundle: both live in the build's products folder).
    static let binary: URL? = try? BuiltExecutable.url(named: "volley-fake-llm")

    /// Reads `handle` to EOF off the cooperative pool.
    static func readToEnd(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: handle.readDataToEndOfFile()) }
        }
    }

    /// Reads `handle` until the first newline off the cooperative pool.
    static func readLine(_ handle: FileHandle) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var bytes = Data()
                while !bytes.contains(UInt8(ascii: "\n")) {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    bytes.append(chunk)
                }
                continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
            }
        }
    }

    @Test(.enabled(if: binary != nil, "volley-fake-llm is not built"))
    func printsOneLineServesAndExitsZeroOnSIGTERM() async throws {
        guard let binary = Self.binary else { return }
        let process = Process()
        process.executableURL = binary
        process.arguments = ["--port", "0", "--rpm", "600", "--output-tokens", "3", "--seed", "7"]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.runKeepingReference()

        let line = await Self.readLine(stdout.fileHandleForReading)
        #expect(line.hasSuffix("}\n"))
        let announced = try JSONParser.parse(line.trimmingCharacters(in: .whitespacesAndNewlines))
        let port = try #require(announced["port"]?.intValue)
        #expect(port > 0)
        #expect(announced["base_url"]?.stringValue == "http://127.0.0.1:\(port)")

        let response = try await TestConnection.with(port: port) { connection in
            try await connection.exchange("/v1/chat/completions", body: Bodies.openAI())
        }
        #expect(response.status == 200)
        #expect(response.json["usage"]?["completion_tokens"]?.intValue == 3)
        #expect(response.header("x-ratelimit-limit-requests") == "600")

        process.terminate()  // SIGTERM
        let rest = await Self.readToEnd(stdout.fileHandleForReading)  // EOF once the process exits
        process.waitUntilExit()
        #expect(rest.isEmpty)  // nothing but the one line on stdout
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    @Test(.enabled(if: binary != nil, "volley-fake-llm is not built"))
    func helpDocumentsTheStrictServerFlags() async throws {
        guard let binary = Self.binary else { return }
        let process = Process()
        process.executableURL = binary
        process.arguments = ["--help"]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.runKeepingReference()
        let help = String(decoding: await Self.readToEnd(stdout.fileHandleForReading), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        for flag in [
            "--request-burst <n>", "--no-rate-limit-headers", "--retry-after-on-429 <seconds>", "--max-in-flight <k>",
            "--no-concurrency-hint",
        ] {
            #expect(help.contains(flag), "\(flag) missing from --help")
        }
    }

    /// Every strict-server flag reaches the configuration: a burst of 1, no rate-limit headers, a
    /// fixed retry-after of 7 s, and a cap of one model request in flight whose refusal is generic.
    @Test(.enabled(if: binary != nil, "volley-fake-llm is not built"))
    func strictServerFlagsConfigureTheServer() async throws {
        guard let binary = Self.binary else { return }
        let process = Process()
        process.executableURL = binary
        process.arguments = [
            "--port", "0", "--rpm", "6", "--burst-seconds", "60", "--request-burst", "1", "--no-rate-limit-headers",
            "--retry-after-on-429", "7", "--max-in-flight", "1", "--no-concurrency-hint",
        ]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.runKeepingReference()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let line = await Self.readLine(stdout.fileHandleForReading)
        let port = try #require(try JSONParser.parse(line.trimmingCharacters(in: .whitespacesAndNewlines))["port"]?.intValue)

        try await TestConnection.with(port: port) { connection in
            let first = try await connection.exchange("/v1/chat/completions", body: Bodies.openAI())
            #expect(first.status == 200)
            #expect(first.header("x-ratelimit-limit-requests") == nil)
            // A burst of 1 (burst-seconds alone would hold 6): the second is limited at once.
            let second = try await connection.exchange("/v1/chat/completions", body: Bodies.openAI())
            #expect(second.status == 429)
            #expect(second.json["error"]?["code"]?.stringValue == "rate_limit_exceeded")
            #expect(second.header("retry-after") == "7")
            #expect(second.header("retry-after-ms") == "7000")
            #expect(second.header("x-ratelimit-remaining-requests") == nil)
        }

        try await TestConnection.with(port: port) { held in
            try await held.send("/v1/chat/completions", headers: [("x-fake-mode", "stall_headers")], body: Bodies.openAI())
            try await TestConnection.with(port: port) { connection in
                // The binary has no stats waiter: poll its stats endpoint.
                try await waitUntil("the held request admitted") {
                    try await connection.exchange(.GET, "/fake/stats").json["in_flight_admitted"]?.intValue == 1
                }
                let refused = try await connection.exchange("/v1/chat/completions", body: Bodies.openAI())
                #expect(refused.status == 429)
                #expect(refused.json["error"]?["message"]?.stringValue == "Rate limit exceeded")
                #expect(refused.header("retry-after") == "7")
                let stats = try await connection.exchange(.GET, "/fake/stats").json
                #expect(stats["in_flight_refused"]?.intValue == 1)
                #expect(stats["rate_limited"]?.intValue == 2)
            }
        }
    }
}
