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

    /// Times are written digit by digit; the text must be what the tree's `JSONNumber` of the
    /// rounded value gives, for every magnitude and sign (and nothing when it is not finite).
    @Test func timesAreWrittenAsTheTreeWritesThem() {
        var values: [Double] = [
            0, -0.0, 0.04, 0.05, 0.95, 0.949_999, 1, 12, 812.4444, .leastNonzeroMagnitude, 1e-300, -0.01, -0.05, -3.36,
            1e13 + 0.06, 99_999_999_999_999.94, 99_999_999_999_999.96, 1e14, 1e15, 1e20, 1.7e308, -1.7e308,
            .infinity, -.infinity, .nan, .greatestFiniteMagnitude,
        ]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<5_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let mantissa = Double(state >> 11) / Double(1 << 53)
            let exponent = Double(Int(state % 40) - 12)
            values.append(mantissa * pow10(exponent) * (state & 1 == 0 ? 1 : -1))
        }
        for value in values {
            var written: [UInt8] = []
            Outcome.appendTenths(#","t":"#, value, &written)
            let expected = JSONNumber(Outcome.rounded(value)).map { #","t":"# + $0.text } ?? ""
            #expect(String(decoding: written, as: UTF8.self) == expected, "\(value)")
        }
        var none: [UInt8] = []
        Outcome.appendTenths(#","t":"#, nil, &none)
        #expect(none.isEmpty)
    }

    @Test func integersAreWrittenAsStringWritesThem() {
        for value in [0, 1, 9, 10, -1, -10, 99_999, Int.max, Int.min, Int.min + 1, 1 << 40] {
            var written: [UInt8] = []
            Outcome.appendInt(value, &written)
            #expect(String(decoding: written, as: UTF8.self) == String(value))
        }
    }

    private func pow10(_ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(abs(exponent)) { result *= 10 }
        return exponent < 0 ? 1 / result : result
    }
}
