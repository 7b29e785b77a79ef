import Foundation
import VolleyJSON

/// Per-request instructions read from `x-fake-<key>` headers and from a top-level `"fake"` object
/// in the JSON body (the body wins when both give a key).
///
/// Body keys are snake_case (`latency_ms`); header names use dashes (`x-fake-latency-ms`).
/// An unknown key or an unreadable value makes the request fail with 400, so a typo in a test
/// does not silently do nothing.
struct FakeScript: Sendable, Equatable {
    var latencyMs: Double?
    var status: Int?
    var retryAfter: String?
    var retryAfterMs: String?
    var shouldRetry: Bool?
    var reply: String?
    var outputTokens: Int?
    var toolCall: Bool = false
    var chunkDelayMs: Double?
    var failRate: Double?
    var mode: FakeMode = .ok
    /// Prompt tokens to report as read from the prompt cache (at most the prompt's).
    var cachedTokens = 0

    /// Every key, in the body's spelling.
    static let keys = [
        "latency_ms", "status", "retry_after", "retry_after_ms", "should_retry", "reply",
        "output_tokens", "tool_call", "chunk_delay_ms", "fail_rate", "mode", "cached_tokens",
    ]

    static let headerPrefix = "x-fake-"

    /// Longest scripted wait (one day), so a typo cannot schedule a timer for centuries.
    static let maxDelayMilliseconds = 86_400_000.0
    /// Most output tokens a reply may have, so a typo cannot build a gigabyte reply.
    static let maxOutputTokens = 1_000_000

    /// Reads the script from header pairs and the parsed body (if it was a JSON object).
    static func parse(headers: [(String, String)], body: JSONValue?) throws(FakeScriptError) -> FakeScript {
        var values: [String: String] = [:]
        for (name, value) in headers {
            let lower = name.lowercased()
            guard lower.hasPrefix(headerPrefix) else { continue }
            let key = lower.dropFirst(headerPrefix.count).replacingOccurrences(of: "-", with: "_")
            guard keys.contains(key) else {
                throw FakeScriptError(message: "unknown scripting header '\(name)'; known keys: \(keys.joined(separator: ", "))")
            }
            values[key] = value.trimmingCharacters(in: .whitespaces)
        }
        if let fake = body?["fake"] {
            guard case .object(let members) = fake else {
                throw FakeScriptError(message: "'fake' must be a JSON object")
            }
            for (key, value) in members {
                guard keys.contains(key) else {
                    throw FakeScriptError(message: "unknown 'fake' key '\(key)'; known keys: \(keys.joined(separator: ", "))")
                }
                if value.isNull {
                    values[key] = nil
                    continue
                }
                guard let text = value.scalarText else {
                    throw FakeScriptError(message: "'fake.\(key)' must be a string, number or boolean")
                }
                values[key] = text
            }
        }
        return try FakeScript(values: values)
    }

    init() {}

    init(values: [String: String]) throws(FakeScriptError) {
        for (key, value) in values {
            switch key {
            case "latency_ms": latencyMs = try Self.nonNegativeDouble(value, key)
            case "chunk_delay_ms": chunkDelayMs = try Self.nonNegativeDouble(value, key)
            case "status":
                guard let code = Int(value), (200...599).contains(code) else {
                    throw FakeScriptError(message: "'status' must be an HTTP status from 200 to 599, got '\(value)'")
                }
                status = code
            case "retry_after": retryAfter = try Self.headerValue(value, key)
            case "retry_after_ms": retryAfterMs = try Self.headerValue(value, key)
            case "should_retry": shouldRetry = try Self.bool(value, key)
            case "reply": reply = value
            case "output_tokens":
                guard let count = Int(value), (0...Self.maxOutputTokens).contains(count) else {
                    throw FakeScriptError(
                        message: "'output_tokens' must be a whole number from 0 to \(Self.maxOutputTokens), got '\(value)'")
                }
                outputTokens = count
            case "cached_tokens":
                guard let count = Int(value), count >= 0 else {
                    throw FakeScriptError(message: "'cached_tokens' must be a whole number, 0 or more, got '\(value)'")
                }
                cachedTokens = count
            case "tool_call": toolCall = try Self.bool(value, key)
            case "fail_rate":
                guard let rate = Double(value), rate >= 0, rate <= 1 else {
                    throw FakeScriptError(message: "'fail_rate' must be a number from 0 to 1, got '\(value)'")
                }
                failRate = rate
            case "mode":
                guard let parsed = FakeMode(rawValue: value) else {
                    let known = FakeMode.allCases.map(\.rawValue).joined(separator: ", ")
                    throw FakeScriptError(message: "unknown mode '\(value)'; known modes: \(known)")
                }
                mode = parsed
            default:
                break  // keys were checked by the caller
            }
        }
    }

    private static func nonNegativeDouble(_ value: String, _ key: String) throws(FakeScriptError) -> Double {
        guard let number = Double(value), number.isFinite, number >= 0, number <= maxDelayMilliseconds else {
            throw FakeScriptError(message: "'\(key)' must be a number of milliseconds from 0 to 86400000, got '\(value)'")
        }
        return number
    }

    private static func bool(_ value: String, _ key: String) throws(FakeScriptError) -> Bool {
        switch value.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw FakeScriptError(message: "'\(key)' must be true or false, got '\(value)'")
        }
    }

    private static func headerValue(_ value: String, _ key: String) throws(FakeScriptError) -> String {
        guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw FakeScriptError(message: "'\(key)' must not contain control characters")
        }
        return value
    }
}

/// A scripting key or value the server could not use; answered with 400.
struct FakeScriptError: Error, Equatable, Sendable {
    var message: String
}
