import Testing
@testable import VolleyHTTP

struct SSEParserTests {
    private func parseWhole(_ text: String) -> [SSEEvent] {
        var parser = SSEParser()
        return parser.feed(Array(text.utf8))
    }

    @Test func parsesOpenAIStyleDataEvents() {
        let events = parseWhole("data: {\"a\":1}\n\ndata: [DONE]\n\n")
        #expect(events == [SSEEvent(data: "{\"a\":1}"), SSEEvent(data: "[DONE]")])
    }

    @Test func parsesNamedEventsAndIgnoresComments() {
        let events = parseWhole(": keep-alive\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\nid: 7\n\n")
        #expect(events == [SSEEvent(event: "message_stop", data: "{\"type\":\"message_stop\"}", id: "7")])
    }

    @Test func joinsMultipleDataLines() {
        #expect(parseWhole("data: one\ndata:two\n\n") == [SSEEvent(data: "one\ntwo")])
    }

    @Test func eventWithoutDataIsNotDispatched() {
        #expect(parseWhole("event: ping\n\n").isEmpty)
    }

    @Test func incompleteEventIsHeldUntilTheBlankLine() {
        var parser = SSEParser()
        #expect(parser.feed(Array("data: partial".utf8)).isEmpty)
        #expect(parser.feed(Array("\n".utf8)).isEmpty)
        #expect(parser.feed(Array("\n".utf8)) == [SSEEvent(data: "partial")])
    }

    @Test(arguments: ["\n", "\r\n", "\r"])
    func sameEventsAtEverySplitPointForEachLineEnding(_ newline: String) {
        let text = "event: a\(newline)data: x\(newline)\(newline): c\(newline)data: y\(newline)data: z\(newline)\(newline)"
        let bytes = Array(text.utf8)
        let expected = [SSEEvent(event: "a", data: "x"), SSEEvent(data: "y\nz")]
        #expect(parseWhole(text) == expected)
        for split in 0...bytes.count {
            var parser = SSEParser()
            var events = parser.feed(bytes[..<split])
            events += parser.feed(bytes[split...])
            #expect(events == expected, "split at \(split)")
        }
        // One byte at a time.
        var parser = SSEParser()
        var events: [SSEEvent] = []
        for byte in bytes { events += parser.feed([byte]) }
        #expect(events == expected)
    }
}
