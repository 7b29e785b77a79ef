import Foundation
import Testing
@testable import VolleyRun

@Suite struct LineReaderTests {
    func lines(_ text: String, bufferSize: Int = 4096, maxLineBytes: Int = 1 << 20) throws -> [String] {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write("in.jsonl", text)
        let reader = try LineReader(path: path, maxLineBytes: maxLineBytes, bufferSize: bufferSize)
        var result: [String] = []
        while let line = try reader.next() {
            switch line {
            case .line(let bytes): result.append(String(decoding: bytes, as: UTF8.self))
            case .tooLong(let count): result.append("<too long: \(count)>")
            }
            #expect(reader.lineNumber == result.count)
        }
        return result
    }

    @Test func splitsOnNewlinesAndDropsCarriageReturns() throws {
        #expect(try lines("a\nbb\r\n\nccc") == ["a", "bb", "", "ccc"])
        #expect(try lines("a\n") == ["a"])
        #expect(try lines("") == [])
    }

    @Test func linesSpanningManyReads() throws {
        // The smallest buffer is 4096 bytes: lines of 10,000 bytes span three reads.
        let long = String(repeating: "x", count: 10_000)
        let text = (0..<5).map { "\($0)\(long)" }.joined(separator: "\n") + "\n"
        let got = try lines(text, bufferSize: 4096)
        #expect(got.count == 5)
        #expect(got.allSatisfy { $0.utf8.count == 10_001 })
        #expect(got.map { $0.prefix(1) } == ["0", "1", "2", "3", "4"])
    }

    @Test func tooLongLinesAreSkippedToTheirNewline() throws {
        let text = "short\n" + String(repeating: "y", count: 9000) + "\nafter\n" + String(repeating: "z", count: 3000)
        #expect(try lines(text, bufferSize: 4096, maxLineBytes: 2048) == ["short", "<too long: 9000>", "after", "<too long: 3000>"])
    }

    @Test func countsNonBlankLines() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write("in.jsonl", "a\n\n  \t\r\nb\r\n{}\nlast")
        #expect(try LineCounter.countNonBlankLines(path: path) == 4)
    }
}
