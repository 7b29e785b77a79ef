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
// same value or the same error, as Anthropic's selected and full parses do; the value or
// error is written as one line of JSON, equal to its tree; an error never shows the API key.

let now = 1_700_000_000.0
let apiKey = "sk-fuzz-secret"
let errorStatuses = [400, 401, 404, 408, 413, 429, 500, 503, 529, 302, 200, 204]

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let body = Array(input.rest)
    switch mode & 7 {
    case 0:
        ProvidersTarget.compare { includeRaw in ProviderDecoding.openAI(ProvidersTarget.response(200, body), includeRaw: includeRaw, apiKey: apiKey) }
    case 1:
        ProvidersTarget.compare { includeRaw in ProviderDecoding.anthropic(ProvidersTarget.response(200, body), includeRaw: includeRaw, apiKey: apiKey) }
    case 2:
        ProvidersTarget.check(ProviderDecoding.endpoint(.embeddings, body: body, status: 200, includeRaw: false))
    case 3:
        ProvidersTarget.compare { includeRaw in ProviderDecoding.endpoint(.responses, body: body, status: 200, includeRaw: includeRaw) }
    case 4:
        ProvidersTarget.compare { includeRaw in ProviderDecoding.endpoint(.completions, body: body, status: 200, includeRaw: includeRaw) }
    case 5:
        ProvidersTarget.check(ProviderDecoding.endpoint(.raw(path: "/v1/x"), body: body, status: 200, includeRaw: false))
    default:
        let status = errorStatuses[Int(mode >> 3) % errorStatuses.count]
        let response = ProvidersTarget.response(status, body)
        ProvidersTarget.check(ProviderDecoding.openAI(response, includeRaw: false, apiKey: apiKey))
        ProvidersTarget.check(ProviderDecoding.anthropic(response, includeRaw: false, apiKey: apiKey))
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

    /// Decodes with and without the whole body kept: apart from `raw`, the same result.
    static func compare(_ decode: (Bool) -> Result<ItemValue, ItemError>) {
        let lean = decode(false)
        let whole = decode(true)
        check(lean)
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
