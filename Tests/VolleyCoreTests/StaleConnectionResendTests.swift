import Foundation
import Glibc
import Synchronization
import Testing
import VolleyTestSupport
@testable import VolleyCore

/// Stale pooled connections over real sockets: a server that resets a kept-alive connection
/// when the next request arrives on it (what a load balancer does with a connection it already
/// forgot after idle, a race libcurl's check before reuse cannot see). libcurl itself resends a
/// request that died on a reused connection, on another pooled one, five times; with more
/// stale connections pooled than that it gives up (`CURLE_SEND_ERROR`, "Connection died")
/// and the call fails, which is how a burst after idle loses calls. Volley resends it once on
/// a new connection inside the attempt: the item succeeds with `max_retries: 0` and no retry.
@Suite(.serialized, .tags(.timeSensitive)) struct StaleConnectionResendTests {
    @Test func aRequestOnlyStaleConnectionsWouldTakeIsResentOnANewOne() async throws {
        let pooled = 8
        let server = try ResettingServer(holdUntil: pooled)
        defer { server.stop() }
        let engine = try Engine(maxConnectionsPerHost: pooled, environment: [:])
        try engine.configure(providers: [
            "gw": ["kind": "openai", "base_url": .string("http://127.0.0.1:\(server.port)/v1"), "api_key": "k",
                   "retry": ["max_retries": 0]],
        ], defaultProvider: "gw")
        let errors = Mutex<[String]>([])
        func run(_ count: Int) async throws -> Int {
            let items: [JSONValue] = (0..<count).map { index in
                ["key": .string("k\(index)"), "request": ["model": "m", "messages": [["role": "user", "content": "hello"]]]]
            }
            let summary = await engine.run(try engine.prepare(items).get(), options: BatchOptions(concurrency: count),
                                           onOutcome: { outcome in
                                               if let error = outcome.error { errors.withLock { $0.append(error.message) } }
                                           })
            return summary.succeeded
        }
        // Fill the pool: the server answers none until all eight are in, so each has its own connection.
        #expect(try await run(pooled) == pooled)
        #expect(server.connections == pooled)
        // Every pooled connection is now stale. One call: libcurl tries up to six of them, then Volley a new one.
        server.makeExistingConnectionsStale()
        #expect(try await run(1) == 1, "\(errors.withLock { $0 })")
        #expect(server.resets >= 6, "libcurl gave up after \(server.resets) stale connections")
        #expect(server.connections == pooled + 1)
        #expect(engine.stats().counters.retries == 0)
        await engine.shutdown()
    }
}

/// An HTTP/1.1 server on 127.0.0.1, a thread per connection: it holds the first `holdUntil`
/// requests until all have arrived, then answers them; after `makeExistingConnectionsStale`,
/// a request on a connection accepted before resets it (RST, no reply), while later
/// connections are answered. Blocking sockets; test-only.
private final class ResettingServer: Sendable {
    let port: Int
    private let listener: Int32
    private let state = Mutex(State())
    private let holdUntil: Int
    /// Where held requests wait for the last of the first `holdUntil`.
    private let held = NSCondition()

    private struct State {
        var connections = 0
        var staleBelow = 0
        var received = 0
        var resets = 0
    }

    var connections: Int { state.withLock { $0.connections } }
    var resets: Int { state.withLock { $0.resets } }

    func makeExistingConnectionsStale() {
        state.withLock { $0.staleBelow = $0.connections + 1 }
    }

    init(holdUntil: Int) throws {
        self.holdUntil = holdUntil
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { close(fd); throw HarnessError("bind/listen failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in acceptLoop() }.start()
    }

    /// Stops accepting: the blocked `accept` returns once the listener is shut down.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let number = state.withLock { $0.connections += 1; return $0.connections }
            Thread { [self] in serve(client, number: number) }.start()
        }
    }

    private func serve(_ client: Int32, number: Int) {
        defer { close(client) }
        var pending: [UInt8] = []
        while readRequest(client, &pending) {
            let (stale, received) = state.withLock { state -> (Bool, Int) in
                state.received += 1
                return (number < state.staleBelow, state.received)
            }
            if stale {
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                state.withLock { $0.resets += 1 }
                return
            }
            if received <= holdUntil {
                // Bounded: a test that never sends them all still ends.
                let deadline = Date(timeIntervalSinceNow: 10)
                held.lock()
                if received == holdUntil { held.broadcast() }
                while state.withLock({ $0.received }) < holdUntil, held.wait(until: deadline) {}
                held.unlock()
            }
            let body = Array(#"{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#.utf8)
            let reply = Array("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: \(body.count)\r\n\r\n".utf8) + body
            guard reply.withUnsafeBytes({ send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == reply.count else { return }
        }
    }

    /// Reads one whole request (head and `content-length` body) from `fd`; false at EOF.
    private func readRequest(_ fd: Int32, _ pending: inout [UInt8]) -> Bool {
        let separator = Array("\r\n\r\n".utf8)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = pending.indices.first(where: { pending[$0...].starts(with: separator) }) {
                let head = String(decoding: pending[..<end], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                let total = end + separator.count + length
                if pending.count >= total {
                    pending.removeFirst(total)
                    return true
                }
            }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return false }
            pending += buffer[..<count]
        }
    }
}
