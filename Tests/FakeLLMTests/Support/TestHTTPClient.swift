import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import VolleyJSON

@testable import FakeLLM

/// What a test saw of one HTTP exchange: possibly incomplete (reset, stall, close).
struct TestExchange: Sendable {
    var head: HTTPResponseHead?
    var body: [UInt8] = []
    /// True when the response's `.end` arrived (the body is complete).
    var ended = false
    /// The error that ended reading, if any (a reset shows up here).
    var error: (any Error)?

    var status: Int { head.map { Int($0.status.code) } ?? 0 }
    var text: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? { head?.headers.first(name: name) }

    /// The body parsed as JSON, or `.null` when it is not JSON.
    var json: JSONValue { (try? JSONParser.parse(body)) ?? .null }

    /// The SSE events of the body: (event name or nil, data) in order.
    var events: [(event: String?, data: String)] {
        text.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { block in
            var event: String?
            var data = ""
            for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            return (event, data)
        }
    }
}

/// One keep-alive HTTP/1.1 client connection on NIO, for driving the fake server in tests.
struct TestConnection {
    typealias Inbound = NIOAsyncChannelInboundStream<HTTPClientResponsePart>

    private var iterator: Inbound.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    private var closed = false

    /// Opens a connection to 127.0.0.1:`port`, runs `body` with it, then closes it.
    static func with<Result: Sendable>(
        port: Int, _ body: (inout TestConnection) async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Built by hand so 1xx interim responses are forwarded (the default drops them).
                    let decoder = HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .forward)
                    try channel.pipeline.syncOperations.addHandler(HTTPRequestEncoder())
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = TestConnection(iterator: inbound.makeAsyncIterator(), outbound: outbound)
            return try await body(&connection)
        }
    }

    private init(iterator: Inbound.AsyncIterator, outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>) {
        self.iterator = iterator
        self.outbound = outbound
    }

    /// Sends one request (`Content-Length` set from `body`).
    mutating func send(_ path: String, headers: [(String, String)] = [], body: String? = nil) async throws {
        try await send(.POST, path, headers: headers, body: body)
    }

    /// Sends one request with `method`.
    mutating func send(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String? = nil)
        async throws
    {
        var fields = HTTPHeaders(headers)
        fields.add(name: "host", value: "127.0.0.1")
        if let body {
            fields.add(name: "content-type", value: "application/json")
            fields.add(name: "content-length", value: String(body.utf8.count))
        }
        try await outbound.write(.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: fields)))
        if let body { try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body)))) }
        try await outbound.write(.end(nil))
    }

    /// Sends only a request head (for `Expect: 100-continue`).
    mutating func sendHead(_ path: String, headers: [(String, String)]) async throws {
        var fields = HTTPHeaders(headers)
        fields.add(name: "host", value: "127.0.0.1")
        fields.add(name: "content-type", value: "application/json")
        try await outbound.write(.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: fields)))
    }

    /// Sends a request body and its end, after `sendHead`.
    mutating func sendBodyAndEnd(_ body: String) async throws {
        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
        try await outbound.write(.end(nil))
    }

    /// The next response part, nil when the connection closed; throws on a reset.
    mutating func nextPart() async throws -> HTTPClientResponsePart? {
        try await iterator.next()
    }

    /// Reads until the response ends or the connection fails; never throws.
    mutating func readResponse() async -> TestExchange {
        var exchange = TestExchange()
        do {
            while let part = try await iterator.next() {
                switch part {
                case .head(let head):
                    if head.status.code >= 100, head.status.code < 200 { continue }
                    exchange.head = head
                case .body(let buffer):
                    exchange.body += Array(buffer.readableBytesView)
                case .end:
                    exchange.ended = true
                    return exchange
                }
            }
        } catch {
            exchange.error = error
        }
        return exchange
    }

    /// Reads the response head and at least `minimumBodyBytes` of body (for stalled responses).
    mutating func readHead(minimumBodyBytes: Int = 0) async throws -> TestExchange {
        var exchange = TestExchange()
        while let part = try await iterator.next() {
            switch part {
            case .head(let head):
                exchange.head = head
            case .body(let buffer):
                exchange.body += Array(buffer.readableBytesView)
            case .end:
                exchange.ended = true
                return exchange
            }
            if exchange.head != nil, exchange.body.count >= minimumBodyBytes { return exchange }
        }
        return exchange
    }

    /// Sends a request and reads its response.
    mutating func exchange(_ path: String, headers: [(String, String)] = [], body: String? = nil) async throws
        -> TestExchange
    {
        try await exchange(.POST, path, headers: headers, body: body)
    }

    /// Sends a request with `method` and reads its response.
    mutating func exchange(
        _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> TestExchange {
        do {
            try await send(method, path, headers: headers, body: body)
        } catch ChannelError.ioOnClosedChannel {
            // The server may answer on the request's head, and a scripted reset then close the
            // connection, before the body's last part is written (seen once on a fresh machine:
            // "I/O on closed channel" in `scriptedFaultsApply`). What it sent is the exchange.
        }
        return await readResponse()
    }
}

/// Shorthands used by every server test.
extension FakeLLMServer {
    /// One POST on a fresh connection.
    func request(_ path: String, headers: [(String, String)] = [], body: String? = nil) async throws -> TestExchange {
        try await request(.POST, path, headers: headers, body: body)
    }

    /// One request on a fresh connection.
    func request(
        _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> TestExchange {
        try await TestConnection.with(port: port) { connection in
            try await connection.exchange(method, path, headers: headers, body: body)
        }
    }
}

/// Request bodies used across the tests.
enum Bodies {
    static func openAI(
        _ text: String = "hello there world", model: String = "gpt-4o-mini", maxTokens: Int? = nil,
        stream: Bool = false, includeUsage: Bool = false, fake: String? = nil, extra: String = ""
    ) -> String {
        var fields = ["\"model\":\"\(model)\"", "\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"\(text)\"}]"]
        if let maxTokens { fields.append("\"max_tokens\":\(maxTokens)") }
        if stream { fields.append("\"stream\":true") }
        if includeUsage { fields.append("\"stream_options\":{\"include_usage\":true}") }
        if let fake { fields.append("\"fake\":\(fake)") }
        if !extra.isEmpty { fields.append(extra) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func anthropic(
        _ text: String = "hello there world", model: String = "claude-haiku-4-5", maxTokens: Int = 64,
        stream: Bool = false, fake: String? = nil, extra: String = ""
    ) -> String {
        var fields = [
            "\"model\":\"\(model)\"", "\"max_tokens\":\(maxTokens)", "\"system\":\"be brief\"",
            "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"\(text)\"}]}]",
        ]
        if stream { fields.append("\"stream\":true") }
        if let fake { fields.append("\"fake\":\(fake)") }
        if !extra.isEmpty { fields.append(extra) }
        return "{" + fields.joined(separator: ",") + "}"
    }
}
