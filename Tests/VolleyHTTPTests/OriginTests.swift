import Testing
@testable import VolleyHTTP

struct OriginTests {
    @Test func parsesSchemeHostAndDefaultPorts() {
        #expect(Origin(url: "https://API.openai.com/v1/chat")?.key == "https://api.openai.com:443")
        #expect(Origin(url: "http://127.0.0.1:8080/v1?x=1")?.key == "http://127.0.0.1:8080")
        #expect(Origin(url: "http://user:pw@host/x")?.key == "http://host:80")
        #expect(Origin(url: "https://[::1]:8443/x")?.key == "https://[::1]:8443")
        #expect(Origin(url: "https://[::1]/x")?.key == "https://[::1]:443")
        #expect(Origin(url: "https://a.b")?.isTLS == true)
        #expect(Origin(url: "http://a.b")?.isTLS == false)
    }

    @Test(arguments: ["", "api.openai.com/v1", "ftp://host/x", "http:///x", "file:///etc/passwd"])
    func rejectsWhatIsNotAnAbsoluteHTTPURL(_ url: String) {
        #expect(Origin(url: url) == nil)
    }
}

struct OriginGateTests {
    @Test func http1OriginRunsAtMostOneTransferPerConnection() {
        var gate = OriginGate(maxConnectionsPerHost: 2, maxConcurrentStreams: 100)
        for id in 1...5 as ClosedRange<UInt64> { gate.enqueue(id: id, origin: "http://a:80", isTLS: false) }
        let admitted1 = gate.admit()
        #expect(admitted1 == [.init(id: 1, pipeWait: false), .init(id: 2, pipeWait: false)])
        let admitted2 = gate.admit()
        #expect(admitted2.isEmpty)
        gate.finished(origin: "http://a:80")
        let admitted3 = gate.admit()
        #expect(admitted3 == [.init(id: 3, pipeWait: false)])
        let load = gate.load(of: "http://a:80")
        #expect(load.active == 2 && load.waiting == 2)
    }

    @Test func aLimitedAdmitLeavesTheRestReadyInOrder() {
        var gate = OriginGate(maxConnectionsPerHost: 10, maxConcurrentStreams: 100)
        for id in 1...5 as ClosedRange<UInt64> { gate.enqueue(id: id, origin: "http://a:80", isTLS: false) }
        #expect(gate.admit(limit: 2).map(\.id) == [1, 2])
        #expect(gate.hasReady)
        #expect(gate.admit(limit: 2).map(\.id) == [3, 4])
        #expect(gate.admit(limit: 2).map(\.id) == [5])
        #expect(!gate.hasReady)
        #expect(gate.admit(limit: 2).isEmpty)
    }

    @Test func unknownTLSOriginIsConservativeUntilHTTP2IsSeen() {
        var gate = OriginGate(maxConnectionsPerHost: 2, maxConcurrentStreams: 3)
        for id in 1...10 as ClosedRange<UInt64> { gate.enqueue(id: id, origin: "https://a:443", isTLS: true) }
        // Before the protocol is known: as many as HTTP/1.1 could run, waiting to multiplex.
        let admitted4 = gate.admit()
        #expect(admitted4 == [.init(id: 1, pipeWait: true), .init(id: 2, pipeWait: true)])
        gate.learned(origin: "https://a:443", isHTTP2: true)
        // HTTP/2: connections x streams.
        let admitted5 = gate.admit().map(\.id)
        #expect(admitted5 == [3, 4, 5, 6])
        #expect(gate.proto(of: "https://a:443") == .http2)
    }

    @Test func tlsOriginAnsweringHTTP1StopsPipeWait() {
        var gate = OriginGate(maxConnectionsPerHost: 2, maxConcurrentStreams: 3)
        for id in 1...4 as ClosedRange<UInt64> { gate.enqueue(id: id, origin: "https://a:443", isTLS: true) }
        _ = gate.admit()
        gate.learned(origin: "https://a:443", isHTTP2: false)
        gate.finished(origin: "https://a:443")
        let admitted6 = gate.admit()
        #expect(admitted6 == [.init(id: 3, pipeWait: false)])
    }

    @Test func cancelledWaitersAreSkippedAndOriginsAreIndependent() {
        var gate = OriginGate(maxConnectionsPerHost: 1, maxConcurrentStreams: 1)
        gate.enqueue(id: 1, origin: "http://a:80", isTLS: false)
        gate.enqueue(id: 2, origin: "http://a:80", isTLS: false)
        gate.enqueue(id: 3, origin: "http://a:80", isTLS: false)
        gate.enqueue(id: 4, origin: "http://b:80", isTLS: false)
        let first = Set(gate.admit().map(\.id))
        #expect(first == [1, 4])
        let cancelled = gate.cancelWaiting(id: 2)
        let again = gate.cancelWaiting(id: 2)
        let running = gate.cancelWaiting(id: 1)
        #expect(cancelled && !again)
        #expect(!running)  // Already admitted: the loop aborts it instead.
        gate.finished(origin: "http://a:80")
        let admitted7 = gate.admit().map(\.id)
        #expect(admitted7 == [3])
    }
}

struct HTTPHeadersTests {
    @Test func lookupIgnoresASCIICaseOnly() {
        let headers: HTTPHeaders = ["Retry-After": "3", "x-ratelimit-remaining-requests": "9", "X-Multi": "a", "x-multi": "b"]
        #expect(headers["retry-after"] == "3")
        #expect(headers["RETRY-AFTER"] == "3")
        #expect(headers["retry-afte"] == nil)
        #expect(headers["retry-after2"] == nil)
        #expect(headers.values(name: "X-MULTI") == ["a", "b"])
        #expect(HTTPHeaders.equalsIgnoringCase("é", "É") == false)  // Not ASCII: compared as is.
        #expect(HTTPHeaders.equalsIgnoringCase("", ""))
    }
}

struct ResponseHeadLinesTests {
    static let lines = Array("Content-Type: application/json\nX-RateLimit-Remaining-Requests:  499 \nno colon here\nx-request-id:\treq_1\nANTHROPIC-RATELIMIT-TOKENS-REMAINING: 7\n".utf8)

    @Test func rawLinesReadAsLowercasedTrimmedFieldsInOrder() {
        let head = HTTPResponseHead(status: 200, headerLines: Self.lines, version: .http1_1)
        #expect(head.headers.fields == [
            .init(name: "content-type", value: "application/json"),
            .init(name: "x-ratelimit-remaining-requests", value: "499"),
            .init(name: "x-request-id", value: "req_1"),
            .init(name: "anthropic-ratelimit-tokens-remaining", value: "7"),
        ])
        #expect(head == HTTPResponseHead(status: 200, headers: head.headers, version: .http1_1))
    }

    @Test func aPrefixSelectsOnlyThoseFieldsFromEitherForm() {
        let raw = HTTPResponseHead(status: 200, headerLines: Self.lines, version: .http1_1)
        let parsed = HTTPResponseHead(status: 200, headers: raw.headers, version: .http1_1)
        for head in [raw, parsed] {
            let selected = head.headers(withNamePrefixes: ["x-ratelimit-", "anthropic-ratelimit-"])
            #expect(selected.fields.map(\.name) == ["x-ratelimit-remaining-requests", "anthropic-ratelimit-tokens-remaining"])
        }
        #expect(raw.headers(withNamePrefixes: ["nothing-"]).count == 0)
    }

    /// Found by fuzz-headers: a combining mark after the prefix (`x-ratelimit-\u{670}...`)
    /// made `hasPrefix` (characters) miss a field the header lines (bytes) selected.
    @Test func bothFormsSelectByBytesWhateverFollowsThePrefix() {
        let raw = HTTPResponseHead(status: 200, headerLines: Array("X-RateLimit-\u{670}re: 1\nx-ratelimit-\u{301}: 2\n".utf8), version: .http1_1)
        let parsed = HTTPResponseHead(status: 200, headers: raw.headers, version: .http1_1)
        for head in [raw, parsed] {
            #expect(head.headers(withNamePrefixes: ["x-ratelimit-"]).fields.map(\.value) == ["1", "2"])
        }
    }
}
