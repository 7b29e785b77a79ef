import FuzzSupport
import VolleyCore
import VolleyHTTP

// fuzz-headers: a response head's header lines, read for rate limits and Retry-After.
//
// Input: byte 0 picks the status (from a list of the ones providers answer); the rest is the
// header block as the transport keeps it: `name: value` lines, each ended by `\n` (any bytes;
// lines without a colon are ignored as the transport ignores them).
//
// Checks: the fields parsed from the lines have lowercase names and no line break; reading
// only the rate-limit fields (by name prefix, without making strings of the others) gives the
// same fields as filtering all of them; rate-limit state, Retry-After (seconds, HTTP dates),
// Go durations and RFC 3339 times are finite, not negative, and never trap; the error a
// refused reply becomes never shows the API key.

let statuses = [200, 400, 401, 403, 404, 408, 409, 413, 429, 500, 502, 503, 529, 599, 100, 0]
let now = 1_700_000_000.0
let apiKey = "sk-fuzz-secret"

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let status = statuses[Int(input.byte()) % statuses.count]
    let head = HTTPResponseHead(status: status, headerLines: Array(input.rest), version: .http1_1)

    let fields = head.headers
    for field in fields {
        require(!field.name.utf8.contains { $0 == 0x0A || (65...90).contains($0) }, "field name \(field.name) is not lowercase")
        require(!field.value.utf8.contains(0x0A), "a field value holds a newline")
    }
    let prefixes = ["x-ratelimit-", "anthropic-ratelimit-"]
    let selected = head.headers(withNamePrefixes: prefixes)
    let filtered = fields.filter { field in prefixes.contains { field.name.utf8.starts(with: $0.utf8) } }
    require(selected.fields == filtered, "rate-limit fields by prefix \(selected.fields) differ from the filtered \(filtered)")
    let eager = HTTPResponseHead(status: status, headers: fields, version: .http1_1)
    require(eager.headers(withNamePrefixes: prefixes) == selected, "prefix selection differs between parsed and given fields")

    let state = RateLimitHeaders.parse(selected, nowUnixSeconds: now)
    for reset in [state.requestsResetSeconds, state.tokensResetSeconds].compactMap({ $0 }) {
        require(reset >= 0, "a reset of \(reset) seconds")
    }
    _ = head.rateLimits

    if let wait = RetryAfter.seconds(from: fields, nowUnixSeconds: now) {
        require(wait > 0 && wait.isFinite, "Retry-After of \(wait) seconds")
    }
    for field in fields {
        if let seconds = GoDuration.seconds(field.value) { require(seconds >= 0, "a Go duration of \(seconds)") }
        if let time = RFC3339.parse(field.value) { require(time.isFinite, "an RFC 3339 time of \(time)") }
        if let time = HTTPDate.parse(field.value) { require(time.isFinite, "an HTTP date of \(time)") }
    }

    let error = ProviderDecoding.refusal(status: status, headers: fields, body: Array(input.rest), apiKey: apiKey, nowUnixSeconds: now)
    require(!containsBytes(error.message.utf8, apiKey.utf8), "an error message shows the API key: \(error.message)")
    if let wait = error.retryAfterSeconds { require(wait > 0 && wait.isFinite, "an error's retry-after of \(wait)") }
    return 0
}

@main
enum Main {
    static func main() { FuzzDriver.main(testOneInput) }
}
