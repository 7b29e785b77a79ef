import Foundation
import Testing

@testable import FakeLLM

/// Runs the built `volley-fake-llm` binary the way scripts do: port 0, read the one stdout line.
@Suite("volley-fake-llm command line", .timeLimit(.minutes(1)))
struct CommandLineTests {
    /// The binary beside the test bundle (both live in the build's products folder).
    static let binary: URL? = {
        guard let first = CommandLine.arguments.first else { return nil }
        let candidate = URL(fileURLWithPath: first).deletingLastPathComponent().appendingPathComponent("volley-fake-llm")
        return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
    }()

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
        try process.run()

        let line = await Self.readLine(stdout.fileHandleForReading)
        #expect(line.hasSuffix("}\n"))
        let announced = try FakeJSON.parse(line.trimmingCharacters(in: .whitespacesAndNewlines))
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
}
