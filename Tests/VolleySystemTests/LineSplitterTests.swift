import Testing
@testable import VolleySystem

@Suite("LineSplitter")
struct LineSplitterTests {
    private func line(_ text: String) -> LineSplitter.Event {
        .line(Array(text.utf8))
    }

    /// Feeds `chunks` then finishes, returning every event.
    private func split(_ chunks: [[UInt8]], maxLineBytes: Int = LineSplitter.defaultMaxLineBytes) -> [LineSplitter.Event] {
        var splitter = LineSplitter(maxLineBytes: maxLineBytes)
        var events = chunks.flatMap { splitter.feed($0) }
        if let last = splitter.finish() {
            events.append(last)
        }
        return events
    }

    @Test func linesCRLFAndBlankLines() {
        let events = split([Array("a\nb\r\n\n  \t\r\n\r\n{\"x\":1}\r\nc".utf8)])
        #expect(events == [line("a"), line("b"), line("{\"x\":1}"), line("c")])
    }

    @Test func onlyOneTrailingCarriageReturnIsStripped() {
        #expect(split([Array("a\r\r\n".utf8)]) == [line("a\r")])
        #expect(split([Array("a\rb\n".utf8)]) == [line("a\rb")])
    }

    @Test func overLongLineThenAValidLine() {
        let events = split([Array("0123456789abcdef\n{\"a\":1}\n".utf8)], maxLineBytes: 8)
        #expect(events == [.tooLong(byteCount: 16), line("{\"a\":1}")])
    }

    @Test func limitIsInclusiveAndIgnoresTheCarriageReturn() {
        #expect(split([Array("12345\n".utf8)], maxLineBytes: 5) == [line("12345")])
        #expect(split([Array("12345\r\n".utf8)], maxLineBytes: 5) == [line("12345")])
        #expect(split([Array("123456\n".utf8)], maxLineBytes: 5) == [.tooLong(byteCount: 6)])
        #expect(split([Array("123456\r\n".utf8)], maxLineBytes: 5) == [.tooLong(byteCount: 7)])
        // The same, with the carriage return arriving in its own chunk.
        #expect(split([Array("12345\r".utf8), Array("\n".utf8)], maxLineBytes: 5) == [line("12345")])
        #expect(split([Array("123456".utf8), Array("\r\n".utf8)], maxLineBytes: 5) == [.tooLong(byteCount: 7)])
    }

    @Test func finalUnterminatedLine() {
        #expect(split([Array("a\nlast".utf8)]) == [line("a"), line("last")])
        #expect(split([Array("a\nlast\r".utf8)]) == [line("a"), line("last")])
        #expect(split([Array("a\n   ".utf8)]) == [line("a")])
        #expect(split([Array("a\n0123456789".utf8)], maxLineBytes: 4) == [line("a"), .tooLong(byteCount: 10)])
        #expect(split([Array("a\n01234".utf8)], maxLineBytes: 4) == [line("a"), .tooLong(byteCount: 5)])
        #expect(split([]) == [])
    }

    @Test func overLongLinesAreCountedNotKept() {
        var splitter = LineSplitter(maxLineBytes: 1024)
        let chunk = [UInt8](repeating: 0x41, count: 4096)
        for _ in 0..<256 {
            #expect(splitter.feed(chunk).isEmpty)
            #expect(splitter.pendingByteCount <= 1025)
        }
        #expect(splitter.feed(Array("tail\nnext\n".utf8)) == [.tooLong(byteCount: 256 * 4096 + 4), line("next")])
        #expect(splitter.pendingByteCount == 0)
    }

    /// A stream exercising every case; splitting it anywhere must not change what comes out.
    private let stream = Array((
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n" +
        "\r\n" +
        "crlf line\r\n" +
        "   \n" +
        "this line is far too long for the limit of forty\n" +
        "é😀 unicode\n" +
        "\n" +
        "short\r\n" +
        "also far too long to be kept around by us all\r\n" +
        "final without newline"
    ).utf8)

    private var expected: [LineSplitter.Event] {
        [
            line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"),
            line("crlf line"),
            .tooLong(byteCount: 48),
            line("é😀 unicode"),
            line("short"),
            .tooLong(byteCount: 46),
            line("final without newline"),
        ]
    }

    @Test func oneChunk() {
        #expect(split([stream], maxLineBytes: 40) == expected)
    }

    @Test func everySplitIntoTwoChunks() {
        for cut in 0...stream.count {
            let events = split([Array(stream[..<cut]), Array(stream[cut...])], maxLineBytes: 40)
            #expect(events == expected, "cut at \(cut)")
        }
    }

    @Test func everySplitIntoThreeChunks() {
        for first in stride(from: 0, through: stream.count, by: 3) {
            for second in first...stream.count {
                let chunks = [Array(stream[..<first]), Array(stream[first..<second]), Array(stream[second...])]
                let events = split(chunks, maxLineBytes: 40)
                #expect(events == expected, "cuts at \(first), \(second)")
            }
        }
    }

    @Test func byteByByte() {
        #expect(split(stream.map { [$0] }, maxLineBytes: 40) == expected)
    }

    @Test func keepingBlankLinesEveryLineIsOneEvent() {
        var splitter = LineSplitter(maxLineBytes: 4, keepsBlankLines: true)
        var events = splitter.feed(Array("a\n\n \t\r\nlonger\nb".utf8))
        if let last = splitter.finish() { events.append(last) }
        #expect(events == [line("a"), line(""), line(" \t"), .tooLong(byteCount: 6), line("b")])
        // Ending with the newline leaves no last line; a lone `\r` after it is an empty one.
        var ended = LineSplitter(keepsBlankLines: true)
        #expect(ended.feed(Array("x\n".utf8)) == [line("x")])
        #expect(ended.finish() == nil)
        _ = ended.feed(Array("\r".utf8))
        #expect(ended.finish() == line(""))
    }

    @Test func noLimitDoesNotOverflow() {
        // `Int.max` (the resume journal's "no limit") must not trap on `maxLineBytes + 1`.
        var splitter = LineSplitter(maxLineBytes: .max)
        let long = [UInt8](repeating: 0x61, count: 100_000)
        #expect(splitter.feed(long).isEmpty)
        #expect(splitter.feed(Array("\n".utf8)) == [.line(long)])
    }
}
