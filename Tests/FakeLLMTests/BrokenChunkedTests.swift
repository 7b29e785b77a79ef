import FakeLLMTestSupport
import NIOCore
import NIOPosix
import Testing
import VolleyJSON

@testable import FakeLLM

/// The `garbage_chunked` and `truncated_chunked` modes: the bytes themselves (pure), and what a
/// client reads off the socket (raw, since an HTTP client would refuse them).
@Suite("Broken chunked encoding modes", .timeLimit(.minutes(1)))
struct BrokenChunkedTests {
    static let headers = [("content-type", "application/json"), ("content-length", "10"), ("x-request-id", "r1")]

    @Test func garbageAfterAValidFirstHalf() {
        let wire = BrokenChunkedBody.wire(status: 200, headers: Self.headers, body: .full(Array("0123456789".utf8)), garbage: true)
        let text = String(decoding: wire, as: UTF8.self)
        #expect(text == "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: r1\r\n"
            + "transfer-encoding: chunked\r\nconnection: close\r\n\r\n5\r\n01234\r\nzz-not-a-chunk-size\r\n56789")
    }

    @Test func truncatedAnnouncesMoreThanItSends() {
        let wire = BrokenChunkedBody.wire(status: 200, headers: Self.headers, body: .full(Array("0123456789".utf8)), garbage: false)
        let text = String(decoding: wire, as: UTF8.self)
        #expect(text.hasSuffix("\r\n\r\n5\r\n01234\r\n5\r\n56"), "\(text)")
        #expect(!text.contains("content-length"))
    }

    @Test func eventsGoOutAsValidChunksUntilTheBreak() {
        let events = ["data: a\n\n", "data: b\n\n", "data: c\n\n", "data: [DONE]\n\n"].map { Array($0.utf8) }
        let garbage = String(decoding: BrokenChunkedBody.wire(status: 200, headers: [], body: .events(events), garbage: true), as: UTF8.self)
        #expect(garbage.hasSuffix("\r\n\r\n9\r\ndata: a\n\n\r\n9\r\ndata: b\n\n\r\nzz-not-a-chunk-size\r\ndata: c\n\n"), "\(garbage)")
        let truncated = String(decoding: BrokenChunkedBody.wire(status: 200, headers: [], body: .events(events), garbage: false), as: UTF8.self)
        #expect(truncated.hasSuffix("\r\n\r\n9\r\ndata: a\n\n\r\n9\r\ndata: b\n\n\r\n9\r\ndata"), "\(truncated)")
    }

    @Test(arguments: ["garbage_chunked", "truncated_chunked"], [false, true])
    func throughTheServer(mode: String, stream: Bool) async throws {
        try await withFakeServer { server in
            let body = Bodies.openAI(stream: stream, fake: #"{"mode":"\#(mode)"}"#)
            let request = "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                + "content-length: \(body.utf8.count)\r\n\r\n" + body
            let reply = String(decoding: try await Self.rawExchange(port: server.port, request), as: UTF8.self)
            #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(reply.prefix(300))")
            #expect(reply.contains("\r\ntransfer-encoding: chunked\r\n"))
            #expect(!reply.contains("\r\n0\r\n\r\n"), "never the final chunk")
            #expect(reply.contains("zz-not-a-chunk-size") == (mode == "garbage_chunked"))
            // The server closed the connection (the read above ended) and counts the request as
            // its own abort, not the client's.
            let stats = try await server.waitForStats { $0.requests == 1 && $0.inFlight == 0 && $0.records.count == 1 }
            #expect(stats.records.first?.mode.rawValue == mode)
            #expect(stats.records.first?.status == 200)
            #expect(stats.records.first?.clientDisconnected == false)
            #expect(stats.responsesCompleted == 0)
        }
    }

    /// Writes `request` on a plain TCP connection and reads until the server closes it.
    static func rawExchange(port: Int, _ request: String) async throws -> [UInt8] {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var bytes: [UInt8] = []
            for try await buffer in inbound { bytes += Array(buffer.readableBytesView) }
            return bytes
        }
    }
}
