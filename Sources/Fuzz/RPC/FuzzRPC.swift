import FuzzSupport
import VolleyCore
import VolleyRPC
import VolleySystem

// fuzz-rpc: bytes as stdin delivers them, through the line splitter and the JSON-RPC decoder
// and router, every request answered.
//
// Input: byte 0 picks the line limit (high bit set: the protocol's 16 MiB; else 1 + 4 x the
// low 7 bits, so over-long lines are met often); byte 1's low 3 bits say how many of the next
// bytes are chunk sizes (the stream is fed in chunks of those sizes, in turn); the rest is the
// stream.
//
// Checks: the splitter's lines do not depend on how the stream was cut, and hold no newline
// and no more than the limit; every reply the router writes is one JSON line, with the id of
// the message it answers, and a batch gets one array of exactly its replies; items, providers
// and options in params are read (`Item.parse`, `ProviderSet.merge`) without trapping.

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let limitByte = input.byte()
    let maxLineBytes = limitByte & 0x80 != 0 ? LineSplitter.defaultMaxLineBytes : Int(limitByte) * 4 + 1
    let sizes = (0..<Int(input.byte() & 7)).map { _ in input.byte() }
    let stream = input.rest

    let whole = RPCTarget.split(stream, chunks: [stream], maxLineBytes: maxLineBytes)
    let cut = RPCTarget.split(stream, chunks: chunks(of: stream, sizes: sizes), maxLineBytes: maxLineBytes)
    require(whole == cut, "lines depend on where the stream was cut: \(whole) vs \(cut)")
    for event in whole {
        switch event {
        case .line(let line):
            require(!line.contains(0x0A) && !line.isEmpty && line.count <= maxLineBytes, "bad line of \(line.count) bytes")
            RPCTarget.decode(line)
        case .tooLong(let count):
            require(count > maxLineBytes, "a line of \(count) bytes reported too long (limit \(maxLineBytes))")
        }
    }
    return 0
}

@main
enum Main {
    static func main() { FuzzDriver.main(testOneInput) }
}

enum RPCTarget {
    static func split(_ stream: ArraySlice<UInt8>, chunks: [ArraySlice<UInt8>], maxLineBytes: Int) -> [LineSplitter.Event] {
        var splitter = LineSplitter(maxLineBytes: maxLineBytes)
        var events: [LineSplitter.Event] = []
        for chunk in chunks {
            chunk.withUnsafeBytes { raw in splitter.feed(raw) { events.append($0) } }
        }
        if let last = splitter.finish() { events.append(last) }
        return events
    }

    /// Replies the router writes, kept in order.
    final class Replies: Sendable {
        private let sent = Locked<[[UInt8]]>([])

        func send(_ bytes: [UInt8]) { sent.withLock { $0.append(bytes) } }
        var all: [[UInt8]] { sent.withLock { $0 } }
    }

    static func decode(_ line: [UInt8]) {
        let inbound = RPCDecoder.decode(line: line)
        let replies = Replies()
        var expected: [RPCID] = []
        var isBatch = false
        switch inbound {
        case .parseError:
            expected = [.null]
        case .single(let message):
            if case .invalid(let id, _) = message { expected = [id] }
            if case .request(let id, _, _) = message { expected = [id] }
        case .batch(let messages):
            isBatch = true
            for message in messages {
                switch message {
                case .request(let id, _, _), .invalid(let id, _): expected.append(id)
                case .notification: break
                }
            }
        }
        let calls = inbound.route(replyingWith: replies.send)
        for call in calls {
            readParams(call.params)
            if case .request(_, let params, let responder) = call {
                // Echo the params back: the encoder writes whatever the host sent.
                responder.respond(result: params ?? .null)
                require(!responder.respond(error: .internalError("twice")), "a responder answered twice")
            }
        }
        let sent = replies.all
        if isBatch {
            guard !expected.isEmpty else {
                require(sent.isEmpty, "a batch of notifications was answered")
                return
            }
            require(sent.count == 1, "a batch got \(sent.count) replies")
            guard let reply = sent.first else { return }
            let elements = requireJSONLine(reply, "a reply").arrayValue ?? []
            require(elements.map { $0["id"] } == expected.map(\.jsonValue), "batch reply ids \(elements.map { $0["id"] }) for \(expected)")
        } else {
            require(sent.count == expected.count, "\(sent.count) replies for \(expected.count) expected")
            for (reply, id) in zip(sent, expected) {
                let value = requireJSONLine(reply, "a reply")
                require(value["jsonrpc"] == "2.0" && value["id"] == id.jsonValue, "reply \(value) for id \(id)")
            }
        }
    }

    /// What the server's methods read from params without the engine: items, providers.
    private static func readParams(_ params: JSONValue?) {
        guard let params else { return }
        for request in params["requests"]?.arrayValue ?? [] {
            if case .success(let item) = Item.parse(request) {
                require(item.request == request["request"]?.objectValue, "an item lost its request body")
            }
            _ = Item.key(of: request)
        }
        if let providers = params["providers"] {
            var set = ProviderSet()
            _ = try? set.merge(providers, defaultProvider: params["default_provider"]?.stringValue, environment: [:])
        }
    }
}
