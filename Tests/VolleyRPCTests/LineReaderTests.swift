import Dispatch
import Testing
@testable import VolleyRPC
import VolleySystem
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("LineReader over a pipe")
struct LineReaderTests {
    @Test(arguments: [3, 64 * 1024])
    func linesAcrossReadsThenEOF(readBufferBytes: Int) throws {
        let pipe = try TestPipe()
        defer { pipe.closeReadEnd() }
        let events = Recorder<LineEvent>()
        let reader = LineReader(fd: pipe.readEnd, maxLineBytes: 64, readBufferBytes: readBufferBytes, onPark: nil) {
            events.record($0)
        }
        try reader.start()
        pipe.write("{\"a\":")
        pipe.write("1}\r\n\nxy")
        #expect(events.wait(forCount: 1))
        pipe.write("z\n" + String(repeating: "x", count: 100) + "\nlast")
        pipe.closeWriteEnd()
        #expect(events.wait(forCount: 5))
        #expect(events.all == [
            .line(Array("{\"a\":1}".utf8)), .line(Array("xyz".utf8)), .tooLong(byteCount: 100),
            .line(Array("last".utf8)), .eof,
        ])
        #expect(reader.bytesRead == 5 + 7 + 2 + 101 + 4)
    }

    @Test func pauseStopsReadingUntilResume() throws {
        let pipe = try TestPipe()
        defer { pipe.closeReadEnd() }
        let events = Recorder<LineEvent>()
        let parks = Recorder<Int>()
        let reader = LineReader(fd: pipe.readEnd, maxLineBytes: 1024, readBufferBytes: 1024, onPark: { parks.record(1) }) {
            events.record($0)
        }

        // Paused before starting: the thread parks before its first read.
        reader.pause()
        try reader.start()
        #expect(parks.wait(forCount: 1))
        pipe.write("a\nb\n")
        #expect(reader.bytesRead == 0)
        #expect(unreadByteCount(pipe.readEnd) == 4)
        #expect(events.count == 0)
        reader.resume()
        #expect(events.wait(forCount: 2))
        #expect(events.all.map(\.text) == ["a", "b"])

        // Paused while running: a read(2) already in progress may still take "c" (timing decides),
        // but once the thread has parked, nothing more is read.
        reader.pause()
        #expect(reader.isPaused)
        pipe.write("c\n")
        #expect(parks.wait(forCount: 2))
        let readSoFar = reader.bytesRead
        #expect(readSoFar == 4 || readSoFar == 6)
        #expect(Int(unreadByteCount(pipe.readEnd)) == 6 - readSoFar)
        pipe.write("d\n")
        #expect(reader.bytesRead == readSoFar)
        #expect(Int(unreadByteCount(pipe.readEnd)) == 8 - readSoFar)
        #expect(events.count == readSoFar / 2)

        reader.resume()
        #expect(!reader.isPaused)
        #expect(events.wait(forCount: 4))
        pipe.closeWriteEnd()
        #expect(events.wait(forCount: 5))
        #expect(events.all.map(\.text) == ["a", "b", "c", "d", nil])
        #expect(events.all.last == .eof)
        #expect(parks.count == 2)
    }

    @Test func pauseFromTheHandlerTakesEffectBeforeTheNextRead() throws {
        let pipe = try TestPipe()
        defer { pipe.closeReadEnd() }
        let events = Recorder<LineEvent>()
        let parks = Recorder<Int>()
        let readerBox = Locked<LineReader?>(nil)
        let reader = LineReader(fd: pipe.readEnd, maxLineBytes: 1024, readBufferBytes: 1024, onPark: { parks.record(1) }) { event in
            events.record(event)
            readerBox.withLock { $0?.pause() }
        }
        readerBox.withLock { $0 = reader }
        try reader.start()
        pipe.write("one\n")
        #expect(parks.wait(forCount: 1))
        pipe.write("two\n")
        #expect(events.count == 1)
        #expect(unreadByteCount(pipe.readEnd) == 4)
        reader.resume()
        #expect(parks.wait(forCount: 2))
        #expect(events.all.map(\.text) == ["one", "two"])
        readerBox.withLock { $0 = nil }
        reader.resume()
        pipe.closeWriteEnd()
        #expect(events.wait(forCount: 3))
        #expect(events.all.last == .eof)
    }

    @Test func readErrorsAreReported() throws {
        let events = Recorder<LineEvent>()
        let reader = LineReader(fd: -1) { events.record($0) }
        try reader.start()
        #expect(events.wait(forCount: 1))
        #expect(events.all == [.readError(errno: EBADF)])
    }

    @Test func startTwiceStartsOneThread() throws {
        let pipe = try TestPipe()
        defer { pipe.closeReadEnd() }
        let events = Recorder<LineEvent>()
        let reader = LineReader(fd: pipe.readEnd) { events.record($0) }
        try reader.start()
        try reader.start()
        pipe.write("x\n")
        pipe.closeWriteEnd()
        #expect(events.wait(forCount: 2))
        #expect(events.all == [.line([0x78]), .eof])
    }
}
