import FuzzSupport
import VolleyCore
import VolleyHTTP

// fuzz-sse: a response body as server-sent events, then read by the OpenAI and Anthropic
// stream readers as a streamed attempt reads them.
//
// Input: byte 0's low 3 bits say how many of the next bytes are chunk sizes (the body is fed
// in chunks of those sizes, in turn); byte 1 picks the reader (bit 0: Anthropic, else OpenAI),
// whether the item wants the raw events (bit 1) and a non-2xx status (bit 2: the body is then
// an error body, not events); the rest is the body.
//
// Checks: the events do not depend on where the body was cut (and, for short bodies, match a
// byte-at-a-time feed); no event field holds a line break but `data`'s joins; the reader's
// deltas merge into what the attempt assembles; the outcome it makes is one line of JSON.

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let sizes = (0..<Int(input.byte() & 7)).map { _ in input.byte() }
    let mode = input.byte()
    let body = input.rest

    let events = SSETarget.parse([body])
    let cut = SSETarget.parse(chunks(of: body, sizes: sizes))
    require(events == cut, "events depend on where the body was cut")
    if body.count <= 256 {
        require(events == SSETarget.parse(body.indices.map { body[$0...$0] }), "a byte-at-a-time feed made other events")
    }
    for event in events {
        require(!event.data.utf8.contains(0x0D), "data holds a CR")
        require(!(event.event ?? "").utf8.contains { $0 == 0x0A || $0 == 0x0D }, "an event name holds a line break")
        require(!(event.id ?? "").utf8.contains { $0 == 0x0A || $0 == 0x0D }, "an id holds a line break")
    }

    let stream: ProviderDecoding.Stream = mode & 1 == 0 ? .openAI : .anthropic
    let status = mode & 4 == 0 ? 200 : 429
    let head = HTTPResponseHead(status: status, headers: ["x-ratelimit-remaining-requests": "3"], version: .http2)
    let (deltas, attempt) = ProviderDecoding.stream(stream, head: head, errorBody: status == 200 ? [] : Array(body),
                                                   events: events, includeRaw: mode & 2 != 0, apiKey: "sk-fuzz-key")
    var merged = StreamDelta()
    for delta in deltas {
        require(!delta.isEmpty, "an empty delta was sent")
        merged.merge(delta)
    }
    if case .success(let value) = attempt.result, stream == .openAI {
        require(value.text == merged.text || (value.text == nil && merged.text == nil), "the deltas' text is not the answer's")
    }
    SSETarget.checkOutcome(attempt.result)
    return 0
}

@main
enum Main {
    static func main() { FuzzDriver.main(testOneInput) }
}

enum SSETarget {
    static func parse(_ chunks: [ArraySlice<UInt8>]) -> [SSEEvent] {
        var parser = SSEParser()
        return chunks.flatMap { parser.feed($0) }
    }

    /// The outcome line the host would get: one line of JSON equal to the value's tree.
    static func checkOutcome(_ result: Result<ItemValue, ItemError>) {
        let outcome = Outcome(index: 0, key: "k", provider: "p", result: result, attempts: 1, latencyMs: 1, queuedMs: 0)
        var line: [UInt8] = [UInt8(ascii: "{")]
        outcome.writeMembers(into: &line)
        line.append(UInt8(ascii: "}"))
        let parsed = requireJSONLine(line, "an outcome line")
        if case .success(let value) = result {
            require(parsed["value"] == value.json, "the written value is not the value's tree")
        }
    }
}
