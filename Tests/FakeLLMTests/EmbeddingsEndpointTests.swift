import FakeLLMTestSupport
import Foundation
import Testing
import VolleyJSON

@testable import FakeLLM

/// An embeddings request body; `input` is raw JSON text.
func embeddingsBody(
    _ input: String, model: String = "text-embedding-3-small", extra: String = ""
) -> String {
    "{\"model\":\"\(model)\",\"input\":\(input)" + (extra.isEmpty ? "" : "," + extra) + "}"
}

/// The float vectors of an embeddings answer, in `data` order (base64 ones decoded).
func vectors(_ response: TestExchange) -> [[Double]] {
    (response.json["data"]?.arrayValue ?? []).map { item in
        switch item["embedding"] {
        case .array(let numbers)?:
            return numbers.map { $0.doubleValue ?? .nan }
        case .string(let text)?:
            let bytes = Array(Data(base64Encoded: text) ?? Data())
            return stride(from: 0, to: bytes.count - 3, by: 4).map { offset in
                var bits: UInt32 = 0
                for index in 0..<4 { bits |= UInt32(bytes[offset + index]) << UInt32(8 * index) }
                return Double(Float(bitPattern: bits))
            }
        default:
            return []
        }
    }
}

func norm(_ vector: [Double]) -> Double { vector.reduce(0) { $0 + $1 * $1 }.squareRoot() }

@Suite("POST /v1/embeddings", .timeLimit(.minutes(1)))
struct EmbeddingsEndpointTests {
    @Test func answerHasOpenAIsShapeFieldByField() async throws {
        try await withFakeServer { server in
            let response = try await server.request("/v1/embeddings", body: embeddingsBody(#""hello world""#))
            #expect(response.status == 200)
            #expect(response.ended)
            #expect(response.header("content-type") == "application/json")
            #expect(response.header("content-length") == String(response.body.count))
            #expect(response.header("x-request-id")?.hasPrefix("req_") == true)
            #expect(response.header("openai-processing-ms") == "0")
            let body = response.json
            #expect(body.objectValue?.keys == ["object", "data", "model", "usage"])
            #expect(body["object"]?.stringValue == "list")
            #expect(body["model"]?.stringValue == "text-embedding-3-small")
            let data = body["data"]?.arrayValue ?? []
            #expect(data.count == 1)
            #expect(data.first?.objectValue?.keys == ["object", "index", "embedding"])
            #expect(data.first?["object"]?.stringValue == "embedding")
            #expect(data.first?["index"]?.intValue == 0)
            let vector = vectors(response).first ?? []
            #expect(vector.count == 1536)
            #expect(abs(norm(vector) - 1) < 1e-5)
            // Each component is a float32 value widened to double, as OpenAI writes them.
            #expect(vector.allSatisfy { Double(Float($0)) == $0 })
            // "hello world": 11 characters → 3 tokens; no completion tokens.
            #expect(body["usage"]?.objectValue?.keys == ["prompt_tokens", "total_tokens"])
            #expect(body["usage"]?["prompt_tokens"]?.intValue == 3)
            #expect(body["usage"]?["total_tokens"]?.intValue == 3)
        }
    }

    @Test func everyInputShapeGivesOneVectorPerInputInOrder() async throws {
        try await withFakeServer { server in
            let strings = try await server.request(
                "/v1/embeddings", body: embeddingsBody(#"["alpha","beta","gamma delta"]"#))
            let indexes = strings.json["data"]?.arrayValue?.compactMap { $0["index"]?.intValue }
            #expect(indexes == [0, 1, 2])
            #expect(strings.json["usage"]?["prompt_tokens"]?.intValue == 2 + 1 + 3)  // per input: 5, 4, 11 chars

            let tokens = try await server.request("/v1/embeddings", body: embeddingsBody("[1,2,3,4,5]"))
            #expect(tokens.status == 200)
            #expect(vectors(tokens).count == 1)
            #expect(tokens.json["usage"]?["prompt_tokens"]?.intValue == 5)

            let tokenLists = try await server.request("/v1/embeddings", body: embeddingsBody("[[1,2],[3],[4,5,6]]"))
            #expect(vectors(tokenLists).count == 3)
            #expect(tokenLists.json["usage"]?["prompt_tokens"]?.intValue == 6)
        }
    }

    @Test func vectorsAreDeterministicAndDistinct() async throws {
        let first = try await withFakeServer { server in
            try await server.request("/v1/embeddings", body: embeddingsBody(#"["same text","other text","same text"]"#))
        }
        // Another server with another seed: the vector depends on the text alone.
        let second = try await withFakeServer({ $0.seed = 99 }) { server in
            try await server.request("/v1/embeddings", body: embeddingsBody(#""same text""#))
        }
        let many = vectors(first)
        #expect(many.count == 3)
        #expect(many[0] == many[2])
        #expect(many[0] != many[1])
        #expect(vectors(second).first == many[0])
        // Unrelated texts are nearly orthogonal.
        let cosine = zip(many[0], many[1]).reduce(0) { $0 + $1.0 * $1.1 }
        #expect(abs(cosine) < 0.2)
    }

    @Test func base64IsTheLittleEndianFloat32BytesOfTheFloats() async throws {
        try await withFakeServer { server in
            let input = #"["the quick brown fox","jumps over"]"#
            let floats = try await server.request("/v1/embeddings", body: embeddingsBody(input))
            let encoded = try await server.request(
                "/v1/embeddings", body: embeddingsBody(input, extra: #""encoding_format":"base64""#))
            #expect(encoded.status == 200)
            let texts = encoded.json["data"]?.arrayValue?.compactMap { $0["embedding"]?.stringValue } ?? []
            #expect(texts.count == 2)
            #expect(texts.allSatisfy { Data(base64Encoded: $0)?.count == 1536 * 4 })
            #expect(vectors(encoded) == vectors(floats))
            #expect(encoded.json["usage"] == floats.json["usage"])

            let explicit = try await server.request(
                "/v1/embeddings", body: embeddingsBody(input, extra: #""encoding_format":"float""#))
            #expect(vectors(explicit) == vectors(floats))

            let tokenFloats = try await server.request("/v1/embeddings", body: embeddingsBody("[[7,8,9]]"))
            let tokenBase64 = try await server.request(
                "/v1/embeddings", body: embeddingsBody("[[7,8,9]]", extra: #""encoding_format":"base64""#))
            #expect(vectors(tokenBase64).first?.count == 1536)
            #expect(vectors(tokenBase64) == vectors(tokenFloats))
        }
    }

    @Test func dimensionsShortenTheVectorAsText3Does() async throws {
        try await withFakeServer { server in
            let full = try await server.request("/v1/embeddings", body: embeddingsBody(#""shorten me""#))
            let short = try await server.request(
                "/v1/embeddings", body: embeddingsBody(#""shorten me""#, extra: #""dimensions":256"#))
            let long = vectors(full).first ?? []
            let cut = vectors(short).first ?? []
            #expect(cut.count == 256)
            #expect(abs(norm(cut) - 1) < 1e-5)
            // The shortened vector is the full one's prefix, renormalised.
            let prefix = Array(long.prefix(256))
            let scale = norm(prefix)
            #expect(zip(cut, prefix).allSatisfy { abs($0 - $1 / scale) < 1e-6 })

            let widest = try await server.request(
                "/v1/embeddings", body: embeddingsBody(#""x""#, extra: #""dimensions":3072"#))
            #expect(vectors(widest).first?.count == 3072)
            let one = try await server.request("/v1/embeddings", body: embeddingsBody(#""x""#, extra: #""dimensions":1"#))
            #expect(vectors(one).first.map { $0.count == 1 && abs(abs($0[0]) - 1) < 1e-6 } == true)
            let large = try await server.request(
                "/v1/embeddings", body: embeddingsBody(#""x""#, model: "text-embedding-3-large"))
            #expect(vectors(large).first?.count == 3072)
        }
    }

    @Test func invalidRequestsAnswer400LikeOpenAI() async throws {
        try await withFakeServer { server in
            func error(_ body: String) async throws -> (status: Int, error: JSONValue?) {
                let response = try await server.request("/v1/embeddings", body: body)
                #expect(response.json.objectValue?.keys == ["error"])
                #expect(response.json["error"]?.objectValue?.keys == ["message", "type", "param", "code"])
                #expect(response.json["error"]?["type"]?.stringValue == "invalid_request_error")
                #expect(response.json["error"]?["code"] == .null)
                return (response.status, response.json["error"])
            }
            let invalidInput = FakeEmbeddingsRequest.invalidInputMessage

            let missing = try await error(#"{"model":"text-embedding-3-small"}"#)
            #expect(missing.status == 400)
            #expect(missing.error?["message"]?.stringValue == "Missing required parameter: 'input'.")
            #expect(missing.error?["param"]?.stringValue == "input")

            for input in [#""""#, "[]", #"["a",""]"#, #"{"text":"a"}"#, "42", #"["a",1]"#, "[1.5]", "[-1]", "[[]]", "[[1],2]", "true"] {
                let invalid = try await error(embeddingsBody(input))
                #expect(invalid.status == 400, "input \(input)")
                #expect(invalid.error?["message"]?.stringValue == invalidInput, "input \(input)")
                #expect(invalid.error?["param"] == .null, "input \(input)")
            }

            let tooMany = try await error(
                embeddingsBody("[" + Array(repeating: #""x""#, count: 2049).joined(separator: ",") + "]"))
            #expect(tooMany.status == 400)
            #expect(
                tooMany.error?["message"]?.stringValue
                    == "Invalid 'input': array too long. Expected an array with maximum length 2048, but got an array "
                    + "with length 2049 instead.")
            #expect(tooMany.error?["param"]?.stringValue == "input")
            let most = try await server.request(
                "/v1/embeddings",
                body: embeddingsBody("[" + Array(repeating: #""x""#, count: 2048).joined(separator: ",") + "]",
                                     extra: #""dimensions":2"#))
            #expect(most.status == 200)
            #expect(most.json["data"]?.arrayValue?.count == 2048)

            let tooLong = try await error(embeddingsBody("\"" + String(repeating: "a", count: 8193 * 4) + "\""))
            #expect(tooLong.status == 400)
            #expect(tooLong.error?["message"]?.stringValue?.hasPrefix(
                "This model's maximum context length is 8192 tokens, however you requested 8193 tokens") == true)

            let noModel = try await error(#"{"input":"x"}"#)
            #expect(noModel.error?["param"]?.stringValue == "model")

            let zero = try await error(embeddingsBody(#""x""#, extra: #""dimensions":0"#))
            #expect(zero.status == 400)
            #expect(zero.error?["param"]?.stringValue == "dimensions")
            #expect(
                zero.error?["message"]?.stringValue
                    == "Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got 0 instead.")
            let wide = try await error(embeddingsBody(#""x""#, extra: #""dimensions":3073"#))
            #expect(wide.error?["message"]?.stringValue?.contains("Expected a value <= 3072, but got 3073") == true)
            let text = try await error(embeddingsBody(#""x""#, extra: #""dimensions":"64""#))
            #expect(text.error?["message"]?.stringValue == "Invalid type for 'dimensions': expected an integer, but got a string instead.")

            let format = try await error(embeddingsBody(#""x""#, extra: #""encoding_format":"hex""#))
            #expect(format.status == 400)
            #expect(format.error?["param"]?.stringValue == "encoding_format")
            #expect(format.error?["message"]?.stringValue == "Invalid value: 'hex'. Supported values are: 'float' and 'base64'.")

            let stats = try await server.waitForStats { $0.records.count == 20 && $0.inFlight == 0 }
            #expect(stats.statusCounts == [200: 1, 400: 19])
            #expect(stats.inputTokens == 2048)  // only the answered request counts
            #expect(stats.records.allSatisfy { $0.path == "/v1/embeddings" })
        }
    }

    @Test func scriptedFaultsApply() async throws {
        try await withFakeServer { server in
            let limited = try await server.request(
                "/v1/embeddings", headers: [("x-fake-mode", "rate_limit")], body: embeddingsBody(#""x""#))
            #expect(limited.status == 429)
            #expect(limited.json["error"]?["code"]?.stringValue == "rate_limit_exceeded")
            #expect(limited.json["error"]?["message"]?.stringValue?.hasPrefix("Rate limit reached for text-embedding-3-small") == true)
            #expect(limited.header("retry-after") == "1")

            let failed = try await server.request(
                "/v1/embeddings", body: embeddingsBody(#""x""#, extra: #""fake":{"status":503,"retry_after":"7"}"#))
            #expect(failed.status == 503)
            #expect(failed.json["error"]?["code"]?.stringValue == "service_unavailable")
            #expect(failed.header("retry-after") == "7")

            let slow = try await server.request(
                "/v1/embeddings", headers: [("x-fake-latency-ms", "30")], body: embeddingsBody(#""x""#))
            #expect(slow.status == 200)
            #expect(slow.header("openai-processing-ms") == "30")

            let malformed = try await server.request(
                "/v1/embeddings", headers: [("x-fake-mode", "malformed")], body: embeddingsBody(#""x""#))
            #expect(malformed.status == 200)
            #expect(malformed.ended)
            #expect(malformed.json == .null)

            let badScript = try await server.request(
                "/v1/embeddings", headers: [("x-fake-nonsense", "1")], body: embeddingsBody(#""x""#))
            #expect(badScript.status == 400)
            #expect(badScript.json["error"]?["param"]?.stringValue == "fake")
        }
    }

    /// 10 TPM with three minutes of burst: capacity 30, one token back every 6 s.
    @Test func tpmChargesTheInputTokensOnly() async throws {
        try await withFakeServer({
            $0.tokensPerMinute = 10
            $0.burstSeconds = 180
            $0.defaultOutputTokens = 16
        }) { server in
            // 11 + 3 characters: 3 + 1 tokens, and no output tokens (chat would add 16).
            let first = try await server.request("/v1/embeddings", body: embeddingsBody(#"["hello world","abc"]"#))
            #expect(first.status == 200)
            #expect(first.json["usage"]?["prompt_tokens"]?.intValue == 4)
            #expect(first.header("x-ratelimit-limit-tokens") == "10")
            #expect(first.header("x-ratelimit-remaining-tokens") == "26")
            #expect(first.header("x-ratelimit-reset-tokens").flatMap(goDurationSeconds).map { $0 > 0 } == true)

            // 25 tokens would fit if only input counted (26 left), not with 16 output added.
            let bigger = try await server.request(
                "/v1/embeddings", body: embeddingsBody("\"" + String(repeating: "b", count: 100) + "\""))
            #expect(bigger.status == 200)
            #expect(bigger.header("x-ratelimit-remaining-tokens") == "1")

            let limited = try await server.request("/v1/embeddings", body: embeddingsBody(#""hello world""#))
            #expect(limited.status == 429)
            #expect(limited.json["error"]?["type"]?.stringValue == "tokens")
            #expect(
                limited.json["error"]?["message"]?.stringValue?.contains(
                    "on tokens per min (TPM): Limit 10, Used 9, Requested 3.") == true)
            #expect(limited.header("x-ratelimit-remaining-tokens") == "1")
            #expect(limited.header("retry-after") != nil)

            let tooLarge = try await server.request(
                "/v1/embeddings", body: embeddingsBody("\"" + String(repeating: "c", count: 200) + "\""))
            #expect(tooLarge.status == 429)
            #expect(tooLarge.json["error"]?["message"]?.stringValue?.hasPrefix(
                "Request too large for text-embedding-3-small") == true)

            let stats = try await server.waitForStats { $0.records.count == 4 && $0.inFlight == 0 }
            #expect(stats.inputTokens == 4 + 25)
            #expect(stats.outputTokens == 0)
            #expect(stats.records.map(\.inputTokens) == [4, 25, 3, 50])
            #expect(stats.records.map(\.outputTokens) == [0, 0, 0, 0])
            #expect(stats.records.map(\.model) == Array(repeating: "text-embedding-3-small", count: 4))
        }
    }

    @Test func rateLimitHeadersAndInFlightCapCoverEmbeddings() async throws {
        try await withFakeServer(LimitTests.rpm) { server in
            let first = try await server.request("/v1/embeddings", body: embeddingsBody(#""x""#))
            #expect(first.header("x-ratelimit-limit-requests") == "3")
            #expect(first.header("x-ratelimit-remaining-requests") == "0")
            // Chat and embeddings share the server's one request bucket.
            let chat = try await server.request("/v1/chat/completions", body: Bodies.openAI())
            #expect(chat.status == 429)
            #expect(chat.json["error"]?["type"]?.stringValue == "requests")
        }
    }

    @Test func vectorArithmeticIsPure() {
        let vector = FakeEmbedding.vector(for: .text("abc"), dimensions: 8)
        #expect(vector == FakeEmbedding.vector(for: .text("abc"), dimensions: 8))
        #expect(vector != FakeEmbedding.vector(for: .tokens([97, 98, 99]), dimensions: 8))
        #expect(FakeEmbedding.base64([1, -2]) == "AACAPwAAAMA=")  // 0x3F800000, 0xC0000000 little-endian
        #expect(FakeEmbedding.seed(for: .text("")) != FakeEmbedding.seed(for: .tokens([])))
    }
}
