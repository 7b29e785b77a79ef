import Foundation
import Testing
import VolleyCore
@testable import VolleyRun
import VolleySystem

/// A fresh directory under the system temp folder, removed by `cleanup()`.
struct TempDir {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("volley-run-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = path(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func read(_ name: String) throws -> String {
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: path(name))), as: UTF8.self)
    }

    func cleanup() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// Collects what a run prints.
final class CapturedConsole: Sendable {
    private let text = Locked("")
    let isTerminal: Bool

    init(isTerminal: Bool = false) {
        self.isTerminal = isTerminal
    }

    var console: RunConsole {
        RunConsole(isTerminal: isTerminal) { [self] chunk in text.withLock { $0 += chunk } }
    }

    var output: String { text.withLock { $0 } }
}

/// The outcome lines of an output file, parsed.
func outcomes(in text: String) throws -> [JSONObject] {
    try text.split(separator: "\n", omittingEmptySubsequences: false).compactMap { line -> JSONObject? in
        guard !line.isEmpty else { return nil }
        guard case .object(let object) = try JSONParser.parse(String(line)) else {
            Issue.record("not an object: \(line)")
            return nil
        }
        return object
    }
}

/// Outcomes by key (the test inputs use unique keys).
func byKey(_ outcomes: [JSONObject]) -> [String: JSONObject] {
    var result: [String: JSONObject] = [:]
    for outcome in outcomes {
        if let key = outcome["key"]?.stringValue { result[key] = outcome }
    }
    return result
}

/// A mock item line with zero latency, or a scripted failure.
func mockItem(_ key: String?, _ content: String = "hi", latencyMs: Int = 0, fail: String? = nil, status: Int? = nil) -> String {
    var mock: JSONObject = ["latency_ms": .number(JSONNumber(latencyMs))]
    if let fail { mock["fail"] = .string(fail) }
    if let status { mock["status"] = .number(JSONNumber(status)) }
    var item: JSONObject = [:]
    if let key { item["key"] = .string(key) }
    item["provider"] = "mock"
    item["request"] = .object([
        "messages": .array([.object(["role": "user", "content": .string(content)])]),
        "mock": .object(mock),
    ])
    return JSONValue.object(item).jsonString
}

/// An OpenAI Batch API line whose body scripts the mock.
func openAILine(_ customID: String, _ content: String = "hi", latencyMs: Int = 0) -> String {
    let body: JSONObject = [
        "model": "gpt-4o-mini",
        "messages": .array([.object(["role": "user", "content": .string(content)])]),
        "mock": .object(["latency_ms": .number(JSONNumber(latencyMs))]),
    ]
    let line: JSONObject = [
        "custom_id": .string(customID), "method": "POST", "url": "/v1/chat/completions", "body": .object(body),
    ]
    return JSONValue.object(line).jsonString
}

/// Runs `FileRun` in this process with no environment (so only the built-in mock exists).
/// `countsLinesInBackground: false` leaves the progress total to the run's own reading.
func runInProcess(
    _ options: RunOptions, console: CapturedConsole = CapturedConsole(), countsLinesInBackground: Bool = true
) async -> RunReport {
    await FileRun.run(options, environment: [:], console: console.console, countsLinesInBackground: countsLinesInBackground)
}
