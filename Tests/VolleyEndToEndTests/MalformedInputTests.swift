import Testing
import VolleyCore
import VolleyTestSupport

/// Lines a careless or broken host may write: each gets its error and the sidecar keeps serving.
@Suite("Malformed input lines", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct MalformedInputTests {
    /// Sends `line`, expects `code` with `id`, then proves the sidecar still answers a ping.
    private func expectError(
        _ cursor: inout Cursor, _ line: [UInt8], code: Int, id: JSONValue = .null,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try cursor.volley.sendBytes(line + [0x0A])
        let reply = try await cursor.next()
        #expect(reply.errorCode == code, "\(reply.jsonString)", sourceLocation: sourceLocation)
        #expect(reply["id"] == id, "\(reply.jsonString)", sourceLocation: sourceLocation)
        #expect(reply["jsonrpc"] == "2.0", sourceLocation: sourceLocation)
        let pong = try await cursor.exchange(#"{"jsonrpc":"2.0","method":"ping","id":"alive"}"#)
        #expect(pong == ["jsonrpc": "2.0", "id": "alive", "result": [:]], "still serving", sourceLocation: sourceLocation)
    }

    @Test("each malformed line gets its error and the process keeps serving")
    func malformedLines() async throws {
        try await withVolley { volley in
            var cursor = Cursor(volley)
            // Truncated JSON.
            try await expectError(&cursor, Array(#"{"jsonrpc":"2.0","id":1,"method":"pi"#.utf8), code: -32700)
            // A valid request followed by garbage on the same line.
            try await expectError(&cursor, Array(#"{"jsonrpc":"2.0","id":2,"method":"ping"} xyz"#.utf8), code: -32700)
            // Two values on one line.
            try await expectError(&cursor, Array(#"{"jsonrpc":"2.0","id":2,"method":"ping"}{}"#.utf8), code: -32700)
            // Invalid UTF-8 inside a string, and outside one.
            try await expectError(&cursor, Array(#"{"jsonrpc":"2.0","id":3,"method":"p"#.utf8) + [0xFF, 0xFE] + Array(#"ing"}"#.utf8), code: -32700)
            try await expectError(&cursor, [0xC3, 0x28], code: -32700)
            // An overlong encoding of "/" (0xC0 0xAF) is invalid UTF-8 too.
            try await expectError(&cursor, Array(#"{"jsonrpc":"2.0","id":4,"method":""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8), code: -32700)
            // A scalar, not an object.
            try await expectError(&cursor, Array("42".utf8), code: -32600)
            try await expectError(&cursor, Array(#""ping""#.utf8), code: -32600)
            // Wrong or missing jsonrpc version: -32600 with the request's own id.
            try await expectError(&cursor, Array(#"{"jsonrpc":"1.0","id":5,"method":"ping"}"#.utf8), code: -32600, id: 5)
            try await expectError(&cursor, Array(#"{"id":6,"method":"ping"}"#.utf8), code: -32600, id: 6)
            // A method that is not a string.
            try await expectError(&cursor, Array(#"{"jsonrpc":"2.0","id":7,"method":["ping"]}"#.utf8), code: -32600, id: 7)
            // params that are neither an object nor an array: -32600.
            try await expectError(&cursor, Array(#"{"jsonrpc":"2.0","id":8,"method":"ping","params":5}"#.utf8), code: -32600, id: 8)
            try await expectError(&cursor, Array(#"{"jsonrpc":"2.0","id":9,"method":"gather","params":"x"}"#.utf8), code: -32600, id: 9)
            // Positional params for gather: -32602.
            try await expectError(&cursor, Array(#"{"jsonrpc":"2.0","id":10,"method":"gather","params":[1]}"#.utf8), code: -32602, id: 10)
            // An unknown param field: -32602 naming it.
            let typo = #"{"jsonrpc":"2.0","id":11,"method":"gather","params":{"requests":[{"request":{"messages":[]}}],"concurency":4}}"#
            try volley.sendLine(typo)
            let typoReply = try await cursor.next()
            #expect(typoReply.errorCode == -32602)
            #expect(typoReply["id"] == 11)
            #expect(typoReply["error"]?["message"]?.stringValue?.contains("concurency") == true, "names the field: \(typoReply.jsonString)")
            try await expectError(&cursor, Array(#"{"jsonrpc":"2.0","id":12,"method":"ping","params":{"x":1}}"#.utf8), code: -32602, id: 12)
            // A response object sent to us is not a request.
            try await expectError(&cursor, Array(#"{"jsonrpc":"2.0","id":13,"result":{}}"#.utf8), code: -32600, id: 13)
            // An id of the wrong type: -32600 with id null.
            try await expectError(&cursor, Array(#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#.utf8), code: -32600)
            // Nesting deep enough to overflow a recursive parser's stack: an error, not a crash.
            try await expectError(&cursor, [UInt8](repeating: UInt8(ascii: "["), count: 100_000), code: -32700)
            try await expectError(&cursor, Array((String(repeating: #"{"a":"#, count: 50_000) + "1" + String(repeating: "}", count: 50_000)).utf8), code: -32700)
            // [] is one -32600, not an array.
            try await expectError(&cursor, Array("[]".utf8), code: -32600)
            // [1,2,3] is an array of three -32600.
            try volley.sendLine("[1,2,3]")
            let batch = try await cursor.next()
            #expect(batch.arrayValue?.count == 3)
            #expect(batch.arrayValue?.allSatisfy { $0.errorCode == -32600 && $0["id"] == .null } == true, "\(batch.jsonString)")

            // Blank lines are ignored and a trailing \r is stripped.
            try volley.sendBytes(Array("\n   \n\r\n".utf8) + Array(#"{"jsonrpc":"2.0","method":"ping","id":"crlf"}"#.utf8) + [0x0D, 0x0A])
            #expect(try await cursor.next() == ["jsonrpc": "2.0", "id": "crlf", "result": [:]])

            volley.closeStdin()
            #expect(try await volley.waitForExit() == .exited(0))
            #expect(volley.stdout.count == cursor.position, "one reply per line: \(volley.stdout.summary())")
        }
    }

    @Test("an over-long line is answered -32010 with id null, then the next request is served")
    func overLongLine() async throws {
        try await withVolley(arguments: ["--max-line-bytes", "2048"]) { volley in
            var cursor = Cursor(volley)
            let padding = String(repeating: "x", count: 5000)
            let long = #"{"jsonrpc":"2.0","method":"ping","id":"long","params":{"pad":"\#(padding)"}}"#
            let valid = #"{"jsonrpc":"2.0","method":"ping","id":"next"}"#
            // Both in one write: the reader must resynchronise at the long line's newline.
            try volley.sendBytes(Array((long + "\n" + valid + "\n").utf8))
            let tooLong = try await cursor.next()
            #expect(tooLong.errorCode == -32010)
            #expect(tooLong["id"] == .null)
            #expect(tooLong.errorData?["max_line_bytes"] == 2048)
            #expect(tooLong.errorData?["byte_count"]?.intValue == long.utf8.count)
            #expect(try await cursor.next() == ["jsonrpc": "2.0", "id": "next", "result": [:]])

            // A line of exactly the limit is accepted.
            let prefix = #"{"jsonrpc":"2.0","method":"ping","id":"exact","params":{}}"#
            let exact = prefix + String(repeating: " ", count: 2048 - prefix.utf8.count)
            #expect(exact.utf8.count == 2048)
            #expect(try await cursor.exchange(exact)["id"] == "exact")

            // An over-long line at EOF (no newline) is answered too, then the process exits 0.
            try volley.sendBytes(Array(long.utf8))
            volley.closeStdin()
            let atEOF = try await cursor.next()
            #expect(atEOF.errorCode == -32010)
            #expect(try await volley.waitForExit() == .exited(0))
            #expect(volley.stdout.count == cursor.position)
        }
    }
}
