import Foundation

/// The fake embedding model: a deterministic unit vector per input.
///
/// An input's FNV-1a hash (of its UTF-8 text, or of its token ids) seeds a `SeededGenerator`
/// whose draws, uniform in [-1, 1), are the raw components; the vector is the first
/// `dimensions` of them scaled to length 1, then rounded to float32 as OpenAI's are. So the
/// same input always gives the same vector, different inputs give unrelated ones (cosine near
/// 0), and a shorter `dimensions` gives the longer vector's prefix renormalised, as
/// text-embedding-3's shortened embeddings are.
enum FakeEmbedding {
    /// The unit vector of `input`, `dimensions` long (at least 1).
    static func vector(for input: FakePrompt, dimensions: Int) -> [Float] {
        var generator = SeededGenerator(seed: seed(for: input))
        let count = max(1, dimensions)
        var raw = [Double](repeating: 0, count: count)
        var squares = 0.0
        for index in 0..<count {
            let component = generator.nextUnit() * 2 - 1
            raw[index] = component
            squares += component * component
        }
        guard squares > 0 else { return [1] + [Float](repeating: 0, count: count - 1) }
        let scale = 1 / squares.squareRoot()
        return raw.map { Float($0 * scale) }
    }

    /// The vector as OpenAI's `encoding_format: "base64"` sends it: its float32 values as
    /// little-endian bytes, base64-encoded.
    static func base64(_ vector: [Float]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(vector.count * 4)
        for value in vector {
            let bits = value.bitPattern
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
        }
        return Data(bytes).base64EncodedString()
    }

    /// 64-bit FNV-1a of the input: of `t` and the UTF-8 text, or of `k` and each token id's
    /// eight little-endian bytes (so a text and token ids never share a seed by accident).
    static func seed(for input: FakePrompt) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ byte: UInt8) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        switch input {
        case .text(let text):
            mix(UInt8(ascii: "t"))
            for byte in text.utf8 { mix(byte) }
        case .tokens(let ids):
            mix(UInt8(ascii: "k"))
            for id in ids {
                let bits = UInt64(bitPattern: Int64(id))
                for shift in stride(from: 0, to: 64, by: 8) { mix(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
            }
        }
        return hash
    }
}
