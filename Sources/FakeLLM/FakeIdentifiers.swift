/// Realistic-looking ids (`chatcmpl-…`, `msg_…`, `req_…`), deterministic for a seed.
struct FakeIdentifiers: Sendable {
    private var generator: SeededGenerator
    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    /// `prefix` followed by `length` base-62 characters.
    mutating func make(_ prefix: String, length: Int = 24) -> String {
        var text = prefix
        for _ in 0..<length {
            text.append(Self.alphabet[Int(generator.next() % UInt64(Self.alphabet.count))])
        }
        return text
    }

    /// `req_` and 32 hex digits, the shape of OpenAI's `x-request-id`.
    mutating func requestID() -> String {
        let high = String(generator.next(), radix: 16)
        let low = String(generator.next(), radix: 16)
        return "req_" + String(repeating: "0", count: 16 - high.count) + high
            + String(repeating: "0", count: 16 - low.count) + low
    }
}
