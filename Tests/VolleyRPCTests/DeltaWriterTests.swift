import Synchronization
import Testing
import VolleyCore
@testable import VolleyRPC
import VolleySystem

/// `delta` and `reset` notifications: sent one by one while the host keeps up, merged per
/// item while it does not, every one before the item's outcome.
struct DeltaWriterTests {
    final class Host: Sendable {
        let frames = Locked<[JSONValue]>([])
        let queued = Atomic<Int>(0)

        func writer() -> DeltaWriter {
            DeltaWriter(request: 7, congestedBytes: 100, queued: { self.queued.load(ordering: .relaxed) },
                        send: { frame in self.frames.withLock { $0.append((try? JSONParser.parse(frame)) ?? .null) } })
        }

        var sent: [JSONValue] { frames.withLock { $0 } }
    }

    @Test func whileTheHostKeepsUpEachDeltaIsItsOwnNotification() {
        let host = Host()
        let writer = host.writer()
        writer.handle(.delta(index: 0, attempt: 1, StreamDelta(text: "Hel")))
        writer.handle(.delta(index: 0, attempt: 1, StreamDelta(text: "lo")))
        #expect(host.sent.map { $0["params"]?["text"] } == ["Hel", "lo"])
        #expect(host.sent.first?["method"] == "delta")
        #expect(host.sent.first?["params"]?["request"] == 7 && host.sent.first?["params"]?["attempt"] == 1)
    }

    @Test func aSlowHostGetsAdjacentDeltasMergedAndNothingLost() {
        let host = Host()
        let writer = host.writer()
        host.queued.store(1_000, ordering: .relaxed)
        writer.handle(.delta(index: 0, attempt: 1, StreamDelta(text: "a")))
        writer.handle(.delta(index: 1, attempt: 1, StreamDelta(text: "x")))
        writer.handle(.delta(index: 0, attempt: 1, StreamDelta(text: "b", toolCalls: [ToolCallDelta(index: 0, id: "c1", name: "f", arguments: "{\"")])))
        writer.handle(.delta(index: 0, attempt: 1, StreamDelta(toolCalls: [ToolCallDelta(index: 0, arguments: "k\":1}")])))
        #expect(host.sent.isEmpty, "the host is behind: they wait")
        // The host caught up: item 0's next delta goes out with everything before it.
        host.queued.store(0, ordering: .relaxed)
        writer.handle(.delta(index: 0, attempt: 1, StreamDelta(text: "c")))
        #expect(host.sent.count == 1)
        #expect(host.sent[0]["params"]?["text"] == "abc")
        #expect(host.sent[0]["params"]?["tool_calls"] == [["index": 0, "id": "c1", "name": "f", "arguments": "{\"k\":1}"]])
        // Item 1 had no further delta: its outcome flushes it first.
        writer.flush(1)
        #expect(host.sent.last?["params"]?["index"] == 1 && host.sent.last?["params"]?["text"] == "x")
        writer.flush(1)
        #expect(host.sent.count == 2, "flushed once")
    }

    @Test func aResetDropsWhatWaitsAndIsSent() {
        let host = Host()
        let writer = host.writer()
        writer.handle(.delta(index: 3, attempt: 1, StreamDelta(text: "sent")))
        host.queued.store(1_000, ordering: .relaxed)
        writer.handle(.delta(index: 3, attempt: 1, StreamDelta(text: "waiting")))
        writer.handle(.reset(index: 3, attempt: 1))
        writer.flush(3)
        #expect(host.sent.map { $0["method"] } == ["delta", "reset"])
        #expect(host.sent.last?["params"] == ["request": 7, "index": 3, "attempt": 1])
    }
}
