import Foundation
import Testing
import VolleyTestSupport
@testable import VolleyHTTP

/// HTTP/2 over TLS against a real server (nginx) with a CA made for this run.
@Suite(.serialized, .tags(.timeSensitive)) struct TLSHTTP2Tests {
    @Test func fiftyConcurrentRequestsShareOneConnection() async throws {
        let server = try await NginxTLSServer.start(http2: true)
        let client = try HTTPClient()
        let request = HTTPRequest(url: "\(server.baseURL)/slow", timeoutSeconds: 20, caFile: server.caFile)
        let responses = try await withThrowingTaskGroup(of: HTTPResponse.self) { group in
            for _ in 0..<50 { group.addTask { try await client.execute(request) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        await client.shutdown()
        await server.shutdown()
        #expect(responses.count == 50)
        #expect(responses.allSatisfy { $0.status == 200 && $0.head.version == .http2 && $0.info.httpVersion == .http2 })
        #expect(responses.allSatisfy { String(decoding: $0.body, as: UTF8.self).contains("chatcmpl-1") })
        // nginx numbers its connections: one value means one connection carried all 50.
        let connections = Set(responses.compactMap { $0.headers["x-conn"] })
        #expect(connections.count == 1)
        #expect(responses.filter { !$0.info.connectionReused }.count == 1)
        #expect(client.stats.connectionsOpened == 1)
    }

    /// nginx's `return` answers a POST without reading its body and ends the stream; libcurl
    /// 7.88 then failed 0.3-6% of such calls ("Stream error in the HTTP/2 framing layer") when
    /// it went on to send the body, losing the answer. Each send must now end with its answer
    /// (kept when it had arrived whole) or with `requestNotSent`, never another error: that is
    /// what lets the provider layer send it again (`ProviderConfig.send`, up to 4 times, as
    /// here). The race is timing's, and on a loaded machine it can hit one call at every send
    /// (a fresh clone's run saw one call fail 5 sends), so what is held to a number is the
    /// share answered: 99.5%, where without the resends a run lost up to 2.75%.
    @Test func aServerThatAnswersBeforeReadingTheBodyLosesNoCall() async throws {
        let server = try await NginxTLSServer.start(http2: true)
        let client = try HTTPClient()
        let body = Array(#"{"model":"m","messages":[{"role":"user","content":"hello there, this is a body"}]}"#.utf8)
        let request = HTTPRequest(url: "\(server.baseURL)/fast", method: "POST", headers: ["content-type": "application/json"],
                                  body: body, timeoutSeconds: 20, caFile: server.caFile)
        let workers = 16, perWorker = 100
        let results = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<workers {
                group.addTask {
                    var seen: [String] = []
                    for _ in 0..<perWorker {
                        var outcome = ""
                        for resends in 0...4 {
                            do {
                                _ = try await Self.answered(client.execute(request))
                                outcome = "ok"
                            } catch let error as HTTPClientError where error.requestNotSent {
                                outcome = "unsent after \(resends + 1) sends: \(error)"
                                continue
                            } catch {
                                outcome = "failed: \(error)"
                            }
                            break
                        }
                        seen.append(outcome)
                    }
                    return seen
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        await client.shutdown()
        await server.shutdown()
        #expect(results.count == workers * perWorker)
        // Every send that did not bring the answer said the request was not sent.
        let failures = results.filter { $0.hasPrefix("failed") }
        #expect(failures.isEmpty, "\(failures.count) calls failed otherwise, e.g. \(failures.first ?? "")")
        let unsent = results.filter { $0.hasPrefix("unsent") }
        #expect(unsent.count * 200 <= results.count, "\(unsent.count) calls unsent after 5 sends, e.g. \(unsent.first ?? "")")
    }

    private static func answered(_ response: HTTPResponse) throws -> HTTPResponse {
        guard response.status == 200, String(decoding: response.body, as: UTF8.self).contains("chatcmpl-1") else {
            throw HTTPClientError(.other, "unexpected answer: \(response.status)")
        }
        return response
    }

    @Test func serverSentEventsOverHTTP2FromNginxArriveOneByOneAndACutStreamIsAnError() async throws {
        let server = try await NginxTLSServer.start(http2: true)
        let client = try HTTPClient()
        var texts: [String] = []
        var version: HTTPVersion?
        for try await part in client.stream(HTTPRequest(url: "\(server.baseURL)/sse", timeoutSeconds: 20, caFile: server.caFile), sse: .openAI) {
            switch part {
            case .head(let head): version = head.version
            case .event(let event): texts.append(event.data)
            default: break
            }
        }
        #expect(version == .http2)
        #expect(texts.count == 4 && texts.last == "[DONE]" && texts[0].contains("\"Hel\""), "\(texts)")
        await #expect {
            for try await _ in client.stream(HTTPRequest(url: "\(server.baseURL)/sse-cut", timeoutSeconds: 20, caFile: server.caFile),
                                             sse: .openAI) {}
        } throws: { error in
            (error as? HTTPClientError)?.kind == .streamTruncated
        }
        await client.shutdown()
        await server.shutdown()
    }

    @Test func verificationStaysOnWithoutTheCA() async throws {
        let server = try await NginxTLSServer.start(http2: true)
        let client = try HTTPClient()
        // The system store does not know the throwaway CA: the handshake must fail.
        let request = HTTPRequest(url: "\(server.baseURL)/fast", timeoutSeconds: 10)
        await #expect {
            _ = try await client.execute(request)
        } throws: { error in
            (error as? HTTPClientError)?.kind == .tls
        }
        await client.shutdown()
        await server.shutdown()
    }

    @Test func http1OverTLSRunsConcurrentlyOnSeparateConnections() async throws {
        // PIPEWAIT is used until ALPN answers; an HTTP/1.1 origin must not serialise transfers.
        let server = try await NginxTLSServer.start(http2: false)
        let client = try HTTPClient(configuration: HTTPClientConfiguration(maxConnectionsPerHost: 4))
        let request = HTTPRequest(url: "\(server.baseURL)/slow", timeoutSeconds: 20, caFile: server.caFile)
        let responses = try await withThrowingTaskGroup(of: HTTPResponse.self) { group in
            for _ in 0..<8 { group.addTask { try await client.execute(request) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        await client.shutdown()
        await server.shutdown()
        #expect(responses.allSatisfy { $0.status == 200 && $0.info.httpVersion == .http1_1 })
        // Four connections at most, and more than one: the first wave ran in parallel.
        let connections = Set(responses.compactMap { $0.headers["x-conn"] })
        #expect(connections.count > 1 && connections.count <= 4)
    }
}
