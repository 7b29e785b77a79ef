import Testing
import VolleyCore
import VolleyTestSupport

/// The examples section of the JSON-RPC 2.0 specification, replayed against the real binary with
/// Volley's methods in place of `subtract`, `sum`, `update`, ...
@Suite("JSON-RPC 2.0 spec examples", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct JSONRPCSpecTests {
    @Test("named params are accepted; positional params are -32602 for every Volley method")
    func positionalAndNamedParams() async throws {
        try await withVolley { volley in
            let named = try await volley.request("ping", id: 1, params: [:])
            #expect(named == ["jsonrpc": "2.0", "id": 1, "result": [:]])
            let omitted = try await volley.request("ping", id: 2)
            #expect(omitted["result"] == [:])

            // `[42, 23]`-style positional params are valid JSON-RPC, but Volley's methods take objects.
            let positional = try await volley.request("ping", id: 3, params: [42, 23])
            #expect(positional.errorCode == -32602)
            #expect(positional["id"] == 3)
            let positionalStats = try await volley.request("stats", id: 4, params: [])
            #expect(positionalStats.errorCode == -32602)

            // The same method with named params in either member order gives the same answer.
            try volley.sendLine(#"{"params":{},"method":"ping","id":5,"jsonrpc":"2.0"}"#)
            #expect(try await volley.response(to: 5)["result"] == [:])
        }
    }

    @Test("notifications get nothing back, whatever the method")
    func notificationsGetNoReply() async throws {
        try await withVolley { volley in
            var cursor = Cursor(volley)
            try volley.notify("ping")
            try volley.notify("stats", params: [:])
            try volley.notify("cancel", params: ["id": 77])
            try volley.notify("no_such_method", params: [1, 2])
            try volley.notify("initialize", params: ["protocol_version": 1])
            // The first line after the notifications is the reply to the ping that follows them.
            let reply = try await cursor.exchange(#"{"jsonrpc":"2.0","method":"ping","id":"after"}"#)
            #expect(reply == ["jsonrpc": "2.0", "id": "after", "result": [:]])
            volley.closeStdin()
            #expect(try await volley.waitForExit() == .exited(0))
            #expect(volley.stdout.count == 1, "only the ping was answered: \(volley.stdout.summary())")
        }
    }

    @Test("spec examples: unknown method, invalid JSON, invalid Request, batches")
    func specExamples() async throws {
        try await withVolley { volley in
            var cursor = Cursor(volley)

            // rpc call of non-existent method
            let missing = try await cursor.exchange(#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#)
            #expect(missing["id"] == "1")
            #expect(missing.errorCode == -32601)

            // rpc call with invalid JSON
            let badJSON = try await cursor.exchange(#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#)
            #expect(badJSON["id"] == .null)
            #expect(badJSON.errorCode == -32700)

            // rpc call with invalid Request object
            let badRequest = try await cursor.exchange(#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#)
            #expect(badRequest["id"] == .null)
            #expect(badRequest.errorCode == -32600)

            // rpc call Batch, invalid JSON: one error, not an array
            let badBatch = try await cursor.exchange(
                #"[{"jsonrpc": "2.0", "method": "ping", "params": {}, "id": "1"},{"jsonrpc": "2.0", "method""#)
            #expect(badBatch["id"] == .null)
            #expect(badBatch.errorCode == -32700)
            #expect(badBatch.arrayValue == nil)

            // rpc call with an empty Array: one error, not an array
            let empty = try await cursor.exchange("[]")
            #expect(empty["id"] == .null)
            #expect(empty.errorCode == -32600)
            #expect(empty.arrayValue == nil)

            // rpc call with an invalid Batch (but not empty)
            let one = try await cursor.exchange("[1]")
            #expect(one.arrayValue?.count == 1)
            #expect(one[0]?.errorCode == -32600)
            #expect(one[0]?["id"] == .null)

            // rpc call with invalid Batch
            let three = try await cursor.exchange("[1,2,3]")
            #expect(three.arrayValue?.count == 3)
            for reply in three.arrayValue ?? [] {
                #expect(reply.errorCode == -32600)
                #expect(reply["id"] == .null)
            }

            // rpc call Batch: one array line, one reply per member that expects one
            let mixed = try await cursor.exchange("""
                [{"jsonrpc": "2.0", "method": "ping", "params": {}, "id": "1"},\
                {"jsonrpc": "2.0", "method": "cancel", "params": {"id": "nothing"}},\
                {"jsonrpc": "2.0", "method": "stats", "id": "2"},\
                {"foo": "boo"},\
                {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},\
                {"jsonrpc": "2.0", "method": "ping", "params": [42], "id": "9"}]
                """)
            let replies = try #require(mixed.arrayValue, "a batch is answered with one array: \(mixed.jsonString)")
            #expect(replies.count == 5)
            func reply(_ id: JSONValue) -> JSONValue? { replies.first { $0["id"] == id } }
            #expect(reply("1")?["result"] == [:])
            #expect(reply("2")?["result"]?["uptime_ms"]?.doubleValue != nil)
            #expect(reply(.null)?.errorCode == -32600)
            #expect(reply("5")?.errorCode == -32601)
            #expect(reply("9")?.errorCode == -32602)

            // rpc call Batch (all notifications): nothing; the next line answers the next request
            try volley.sendLine("""
                [{"jsonrpc": "2.0", "method": "ping", "params": {}},\
                {"jsonrpc": "2.0", "method": "cancel", "params": {"id": 1}},\
                {"jsonrpc": "2.0", "method": "foo.get"}]
                """)
            let after = try await cursor.exchange(#"{"jsonrpc":"2.0","method":"ping","id":"after-notifications"}"#)
            #expect(after == ["jsonrpc": "2.0", "id": "after-notifications", "result": [:]])

            volley.closeStdin()
            #expect(try await volley.waitForExit() == .exited(0))
            #expect(volley.stdout.count == cursor.position, "no line beyond the expected replies: \(volley.stdout.summary())")
            #expect(volley.stdout.unparseableLines.isEmpty)
        }
    }

    @Test("ids are echoed exactly: strings, big and fractional numbers, null")
    func idsEchoed() async throws {
        try await withVolley { volley in
            var cursor = Cursor(volley)
            let string = try await cursor.exchange(#"{"jsonrpc":"2.0","method":"ping","id":"a\"b\u00e9"}"#)
            #expect(string["id"] == "a\"bé")
            let big = try await cursor.exchange(#"{"jsonrpc":"2.0","method":"ping","id":123456789012345678901234567890}"#)
            #expect(volley.stdout.lines[cursor.position - 1].text.contains(#""id":123456789012345678901234567890"#), "\(big.jsonString)")
            let fraction = try await cursor.exchange(#"{"jsonrpc":"2.0","method":"ping","id":1.50}"#)
            #expect(volley.stdout.lines[cursor.position - 1].text.contains(#""id":1.50"#), "\(fraction.jsonString)")
            let null = try await cursor.exchange(#"{"jsonrpc":"2.0","method":"ping","id":null}"#)
            #expect(null == ["jsonrpc": "2.0", "id": .null, "result": [:]])
            let boolID = try await cursor.exchange(#"{"jsonrpc":"2.0","method":"ping","id":true}"#)
            #expect(boolID.errorCode == -32600)
            #expect(boolID["id"] == .null)
        }
    }
}
