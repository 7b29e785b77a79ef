import Dispatch
import Testing
@testable import VolleyRPC
import VolleySystem
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("FrameWriter over a pipe")
struct FrameWriterTests {
    @Test func framesAreWrittenInOrderOneLineEach() async throws {
        let pipe = try TestPipe()
        defer { pipe.closeReadEnd() }
        let writer = FrameWriter(fd: pipe.writeEnd)
        // Frames queued before start are kept.
        #expect(writer.enqueue(Array(#"{"a":1}"#.utf8)))
        try writer.start()
        writer.enqueue(Array("second".utf8))
        writer.enqueue([])
        writer.enqueue(Array("é😀".utf8))
        #expect(await writer.flush())
        #expect(writer.queuedBytes == 0)
        let drain = try BackgroundDrain(fd: pipe.readEnd)
        pipe.closeWriteEnd()
        let bytes = try #require(drain.wait())
        #expect(String(decoding: bytes, as: UTF8.self) == "{\"a\":1}\nsecond\n\né😀\n")
    }

    @Test func flushWithNothingQueuedReturnsAtOnce() async throws {
        let pipe = try TestPipe()
        defer { pipe.closeReadEnd(); pipe.closeWriteEnd() }
        let writer = FrameWriter(fd: pipe.writeEnd)
        #expect(await writer.flush())
    }

    @Test func watermarksFireWhenTheReaderStallsAndDrains() async throws {
        let pipe = try TestPipe()
        defer { pipe.closeReadEnd() }
        let marks = Recorder<String>()
        let writer = FrameWriter(
            fd: pipe.writeEnd,
            highWatermarkBytes: 256 * 1024,
            lowWatermarkBytes: 64 * 1024,
            onHighWatermark: { marks.record("high") },
            onLowWatermark: { marks.record("low") }
        )
        try writer.start()
        // Nobody reads: the pipe takes at most its capacity (64 KiB), the rest stays queued.
        let frame = [UInt8](repeating: UInt8(ascii: "x"), count: 16 * 1024 - 1)
        for _ in 0..<40 {
            writer.enqueue(frame)
        }
        // The high watermark is announced synchronously by the enqueue that crossed it.
        #expect(marks.all == ["high"])
        #expect(writer.isAboveHighWatermark)
        #expect(writer.queuedBytes >= 40 * 16 * 1024 - 128 * 1024)

        let drain = try BackgroundDrain(fd: pipe.readEnd)
        #expect(marks.wait(forCount: 2))
        #expect(marks.all == ["high", "low"])
        #expect(!writer.isAboveHighWatermark)
        #expect(await writer.flush())
        #expect(marks.all == ["high", "low"])
        pipe.closeWriteEnd()
        let bytes = try #require(drain.wait())
        #expect(bytes.count == 40 * 16 * 1024)
    }

    @Test func callbacksMayEnqueueWithoutDeadlock() async throws {
        let pipe = try TestPipe()
        defer { pipe.closeReadEnd() }
        let marks = Recorder<String>()
        let writerBox = Locked<FrameWriter?>(nil)
        let writer = FrameWriter(
            fd: pipe.writeEnd,
            highWatermarkBytes: 1024,
            lowWatermarkBytes: 0,
            onHighWatermark: {
                marks.record("high")
                _ = writerBox.withLock { $0?.enqueue(Array("from-callback".utf8)) }
            },
            onLowWatermark: { marks.record("low") }
        )
        writerBox.withLock { $0 = writer }
        // Queued before the writer thread starts, so the high mark is crossed (and reported)
        // before anything can drain: otherwise a fast drain may coalesce high+low into nothing.
        writer.enqueue([UInt8](repeating: 0x61, count: 2048))
        try writer.start()
        let drain = try BackgroundDrain(fd: pipe.readEnd)
        #expect(await writer.flush())
        #expect(marks.wait(forCount: 2))
        #expect(marks.all == ["high", "low"])
        writerBox.withLock { $0 = nil }
        pipe.closeWriteEnd()
        let bytes = try #require(drain.wait())
        #expect(lines(bytes).last(where: { !$0.isEmpty }) == "from-callback")
    }

    @Test func brokenPipeIsReportedOnceAndLaterFramesAreDiscarded() async throws {
        ignoreSIGPIPE()
        let pipe = try TestPipe()
        defer { pipe.closeWriteEnd() }
        let broken = Recorder<Int32>()
        let writer = FrameWriter(fd: pipe.writeEnd, onBroken: { broken.record($0) })
        try writer.start()
        writer.enqueue(Array("before".utf8))
        #expect(await writer.flush())
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = buffer.withUnsafeMutableBytes { read(pipe.readEnd, $0.baseAddress, $0.count) }
        #expect(count == 7)

        pipe.closeReadEnd()
        writer.enqueue(Array("after".utf8))
        #expect(broken.wait(forCount: 1))
        #expect(broken.all == [EPIPE])
        #expect(writer.brokenErrno == EPIPE)
        #expect(!writer.enqueue(Array("discarded".utf8)))
        #expect(await writer.flush() == false)
        #expect(writer.queuedBytes == 0)
        #expect(broken.count == 1)
    }

    @Test func finishRejectsNewFrames() async throws {
        let pipe = try TestPipe()
        defer { pipe.closeReadEnd() }
        let writer = FrameWriter(fd: pipe.writeEnd)
        try writer.start()
        writer.enqueue(Array("kept".utf8))
        writer.finish()
        #expect(!writer.enqueue(Array("rejected".utf8)))
        #expect(await writer.flush())
        let drain = try BackgroundDrain(fd: pipe.readEnd)
        pipe.closeWriteEnd()
        #expect(try #require(drain.wait()) == Array("kept\n".utf8))
    }

    @Test func framesNeverInterleaveUnderConcurrentEnqueuers() async throws {
        let pipe = try TestPipe()
        defer { pipe.closeReadEnd() }
        let writer = FrameWriter(fd: pipe.writeEnd)
        try writer.start()
        let drain = try BackgroundDrain(fd: pipe.readEnd)
        let producers = 8
        let framesPerProducer = 60
        // Sizes up to ~150 KB, well past the pipe's capacity, so writes are partial.
        @Sendable func frame(producer: Int, index: Int) -> [UInt8] {
            let size = (producer * 7919 + index * 104_729) % 150_000
            let fill = UInt8(ascii: "a") + UInt8(producer)
            return Array("\(producer):\(index):".utf8) + [UInt8](repeating: fill, count: size)
        }
        DispatchQueue.concurrentPerform(iterations: producers) { producer in
            for index in 0..<framesPerProducer {
                writer.enqueue(frame(producer: producer, index: index))
            }
        }
        #expect(await writer.flush())
        pipe.closeWriteEnd()
        let bytes = try #require(drain.wait())
        var received = lines(bytes)
        #expect(received.removeLast() == "")
        #expect(received.count == producers * framesPerProducer)
        var nextIndex = [Int](repeating: 0, count: producers)
        for line in received {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let producer = Int(parts[0]), let index = Int(parts[1]),
                  (0..<producers).contains(producer)
            else {
                Issue.record("garbled frame starting \(line.prefix(40))")
                return
            }
            // Each producer's frames arrive whole and in the order it queued them.
            #expect(index == nextIndex[producer])
            nextIndex[producer] += 1
            #expect(Array(line.utf8) == frame(producer: producer, index: index))
        }
        #expect(nextIndex == [Int](repeating: framesPerProducer, count: producers))
    }
}
