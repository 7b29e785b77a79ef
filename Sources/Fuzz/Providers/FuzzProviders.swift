import FuzzSupport
import VolleyCore
import VolleyHTTP

// fuzz-providers: a reply body as each provider decoder reads it into an outcome.
//
// Input: byte 0 picks the decoder (low 3 bits: OpenAI chat, Anthropic Messages, embeddings,
// Responses, legacy completions, a raw call, an error reply) and, for an error reply, the
// status (the next bits); the rest is the body.
//
// Checks: OpenAI's field walk (no tree built) and its full parse (`"raw": true`) decode the
// same value or the same error, as Anthropic's selected and full parses do; a body and the
// same document written again from its tree (a repeated key's last value, nothing else
// changed) decode to the same outcome, so walks that read keys as they come agree with the
// tree on repeated keys; the value or error is written as one line of JSON, equal to its
// tree; an error never shows the API key.

let now = 1_700_000_000.0
let apiKey = "sk-fuzz-secret"
let errorStatuses = [400, 401, 404, 408, 413, 429, 500, 503, 529, 302, 200, 204]

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let body = Array(input.rest)
    let decoded = ProvidersTarget.decode(body, mode: mode, includeRaw: false)
    decoded.forEach(ProvidersTarget.check)
    if ProvidersTarget.keepsRaw(mode) {
        ProvidersTarget.compare(decoded, ProvidersTarget.decode(body, mode: mode, includeRaw: true))
    }
    // A repeated key means its last value, as in a parsed tree: the body written again from
    // its tree (one member per key, the last value) must decode to the same outcome.
    if let tree = try? JSONParser.parse(body) {
        ProvidersTarget.compareMeaning(decoded, ProvidersTarget.decode(tree.jsonBytes, mode: mode, includeRaw: false))
    }
    return 0
}

@main
enum Main {
    static func main() { FuzzDriver.main(testOneInput) }
}

enum ProvidersTarget {
    static func response(_ status: Int, _ body: [UInt8]) -> HTTPResponse {
        HTTPResponse(head: HTTPResponseHead(status: status, headers: ["retry-after": "2"], version: .http2), body: body,
                     info: HTTPTransferInfo(connectionReused: false, httpVersion: .http2, connectSeconds: 0,
                                            timeToFirstByteSeconds: 0, totalSeconds: 0, retryAfterSeconds: nil))
    }

    /// The decoder `mode` picks, on `body`: one result, or two for an error reply (OpenAI's and
    /// Anthropic's reading of it).
    static func decode(_ body: [UInt8], mode: UInt8, includeRaw: Bool) -> [Result<ItemValue, ItemError>] {
        switch mode & 7 {
        case 0: [ProviderDecoding.openAI(response(200, body), includeRaw: includeRaw, apiKey: apiKey)]
        case 1: [ProviderDecoding.anthropic(response(200, body), includeRaw: includeRaw, apiKey: apiKey)]
        case 2: [ProviderDecoding.endpoint(.embeddings, body: body, status: 200, includeRaw: includeRaw)]
        case 3: [ProviderDecoding.endpoint(.responses, body: body, status: 200, includeRaw: includeRaw)]
        case 4: [ProviderDecoding.endpoint(.completions, body: body, status: 200, includeRaw: includeRaw)]
        case 5: [ProviderDecoding.endpoint(.raw(path: "/v1/x"), body: body, status: 200, includeRaw: includeRaw)]
        default:
            [ProviderDecoding.openAI(response(errorStatuses[Int(mode >> 3) % errorStatuses.count], body), includeRaw: includeRaw, apiKey: apiKey),
             ProviderDecoding.anthropic(response(errorStatuses[Int(mode >> 3) % errorStatuses.count], body), includeRaw: includeRaw, apiKey: apiKey)]
        }
    }

    /// Whether the decoder reads less without `"raw": true` (a lean walk or a selection).
    static func keepsRaw(_ mode: UInt8) -> Bool {
        [0, 1, 3, 4].contains(mode & 7)
    }

    /// Decoded with and without the whole body kept: apart from `raw`, the same result.
    static func compare(_ lean: [Result<ItemValue, ItemError>], _ whole: [Result<ItemValue, ItemError>]) {
        for (lean, whole) in zip(lean, whole) {
            check(whole)
            switch (lean, whole) {
            case (.success(let value), .success(var full)):
                require(full.raw != nil, "a value decoded with raw has none")
                full.raw = nil
                require(value == full, "the lean decode made \(value.json), the full one \(full.json)")
            case (.failure(let error), .failure(let fullError)):
                require(error == fullError, "the lean decode failed with \(error), the full one with \(fullError)")
            default:
                require(false, "one decode succeeded, the other failed: \(lean) vs \(whole)")
            }
        }
    }

    /// The same outcome from two spellings of one JSON document: equal value trees (raw text
    /// copied from the body may be spelled differently), or the same error.
    static func compareMeaning(_ first: [Result<ItemValue, ItemError>], _ second: [Result<ItemValue, ItemError>]) {
        for (first, second) in zip(first, second) {
            switch (first, second) {
            case (.success(let value), .success(let other)):
                require(value.json == other.json, "the body and its rewrite decode to \(value.json) and \(other.json)")
            case (.failure(let error), .failure(let other)):
                require(error.kind == other.kind && error.message == other.message && error.retryable == other.retryable,
                        "the body and its rewrite fail with \(error) and \(other)")
            default:
                require(false, "the body and its rewrite decode differently: \(first) vs \(second)")
            }
        }
    }

    /// The outcome line the host would get: one line of JSON equal to the value's tree, and
    /// no API key in an error.
    static func check(_ result: Result<ItemValue, ItemError>) {
        let outcome = Outcome(index: 0, key: "k", provider: "p", result: result, attempts: 1, latencyMs: 1, queuedMs: 0)
        var line: [UInt8] = [UInt8(ascii: "{")]
        outcome.writeMembers(into: &line)
        line.append(UInt8(ascii: "}"))
        let parsed = requireJSONLine(line, "an outcome line")
        switch result {
        case .success(let value):
            require(parsed["value"] == value.json, "the written value \(String(describing: parsed["value"])) is not the value's tree \(value.json)")
        case .failure(let error):
            require(!containsBytes(error.message.utf8, apiKey.utf8), "an error shows the API key: \(error.message)")
        }
    }
}
