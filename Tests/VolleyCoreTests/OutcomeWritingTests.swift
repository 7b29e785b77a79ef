import Testing
@testable import VolleyCore

struct OutcomeWritingTests {
    static let outcomes: [Outcome] = [
        Outcome(index: 0, key: "k\"0\n", provider: "open\"ai", result: .success(ItemValue(
            text: "héllo \u{1F600}\t\"quoted\"", finishReason: "stop", model: "m", usage: Usage(inputTokens: 3, outputTokens: 12))),
                attempts: 1, latencyMs: 812.4444, queuedMs: 3.06),
        Outcome(index: 12, key: nil, result: .success(ItemValue(
            text: nil, finishReason: "tool_calls", model: nil, usage: nil,
            toolCalls: [["id": "t", "type": "function", "function": ["name": "f", "arguments": "{}"]]], raw: ["id": "x", "n": .number(JSONNumber(text: "12345678901234567890") ?? 0)])),
                attempts: 2, latencyMs: 0, queuedMs: nil),
        Outcome(index: 7, key: "e", provider: "anthropic", result: .failure(ItemError(.rateLimited, "HTTP 429: slow", status: 429, retryable: true, providerCode: "rate_limit_exceeded")),
                attempts: 3, latencyMs: 5012, queuedMs: 0.04),
        Outcome(index: 3, key: nil, result: .success(ItemValue(text: "cached", finishReason: "stop", model: "m",
                                                              usage: Usage(inputTokens: 2048, outputTokens: 5, cachedInputTokens: 1920))),
                attempts: 1, latencyMs: 10, queuedMs: 0),
        Outcome(index: 99_999, key: nil, result: .failure(ItemError(.cancelled, "cancelled")), attempts: 0, latencyMs: nil, queuedMs: nil),
    ]

    @Test(arguments: outcomes.indices)
    func directWritingIsByteForByteTheTreesJSON(_ which: Int) throws {
        let outcome = Self.outcomes[which]
        var direct: [UInt8] = [UInt8(ascii: "{")]
        outcome.writeMembers(into: &direct)
        direct.append(UInt8(ascii: "}"))
        #expect(String(decoding: direct, as: UTF8.self) == JSONValue.object(outcome.json).jsonString)
        #expect(try JSONParser.parse(direct) == .object(outcome.json))
    }
}
