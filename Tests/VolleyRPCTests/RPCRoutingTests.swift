import Testing
import VolleyCore
import VolleyRPC

/// The JSON-RPC 2.0 specification's examples, end to end at the codec level: decode the line,
/// route it, answer the calls with a toy dispatcher, and compare what would be written.
@Suite("Routing and replies")
struct RPCRoutingTests {
    /// The spec's example methods, answered synchronously.
    private func dispatch(_ calls: [RPCCall]) {
        for call in calls {
            guard case .request(let method, let params, let responder) = call else { continue }
            switch (method, params) {
            case ("subtract", .array(let values)?):
                responder.respond(result: JSONValue((values[0].intValue ?? 0) - (values[1].intValue ?? 0)))
            case ("subtract", .object(let named)?):
                responder.respond(result: JSONValue((named["minuend"]?.intValue ?? 0) - (named["subtrahend"]?.intValue ?? 0)))
            case ("sum", .array(let values)?):
                responder.respond(result: JSONValue(values.compactMap(\.intValue).reduce(0, +)))
            case ("get_data", _):
                responder.respond(result: ["hello", 5])
            default:
                responder.respond(error: .methodNotFound(method))
            }
        }
    }

    /// What the server writes for `line`, one element per frame.
    private func exchange(_ line: String) -> [[UInt8]] {
        let sent = Recorder<[UInt8]>()
        let calls = RPCDecoder.decode(line: Array(line.utf8)).route { sent.record($0) }
        dispatch(calls)
        return sent.all
    }

    /// Compares a written frame with the spec's expected reply; messages must start with the
    /// spec's wording (ours add the reason after a colon).
    private func expectReply(_ frames: [[UInt8]], _ expected: String?, sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard let expected else {
            #expect(frames.isEmpty, "expected no reply", sourceLocation: sourceLocation)
            return
        }
        try #require(frames.count == 1, sourceLocation: sourceLocation)
        let actual = try json(frames[0])
        let wanted = try json(expected)
        #expect(withoutMessages(actual) == withoutMessages(wanted), sourceLocation: sourceLocation)
        for (got, want) in zip(messages(in: actual), messages(in: wanted)) {
            #expect(got.hasPrefix(want), sourceLocation: sourceLocation)
        }
    }

    private func withoutMessages(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let elements):
            return .array(elements.map(withoutMessages))
        case .object(var object):
            if var error = object["error"]?.objectValue {
                error["message"] = nil
                object["error"] = .object(error)
            }
            return .object(object)
        default:
            return value
        }
    }

    private func messages(in value: JSONValue) -> [String] {
        let replies = value.arrayValue ?? [value]
        return replies.compactMap { $0["error"]?["message"]?.stringValue }
    }

    @Test func specExamples() throws {
        try expectReply(exchange(#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#),
                        #"{"jsonrpc": "2.0", "result": 19, "id": 1}"#)
        try expectReply(exchange(#"{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}"#),
                        #"{"jsonrpc": "2.0", "result": -19, "id": 2}"#)
        try expectReply(exchange(#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#),
                        #"{"jsonrpc": "2.0", "result": 19, "id": 3}"#)
        try expectReply(exchange(#"{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}"#),
                        #"{"jsonrpc": "2.0", "result": 19, "id": 4}"#)
        try expectReply(exchange(#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#), nil)
        try expectReply(exchange(#"{"jsonrpc": "2.0", "method": "foobar"}"#), nil)
        try expectReply(exchange(#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#),
                        #"{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}"#)
        try expectReply(exchange(#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#),
                        #"{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}"#)
        try expectReply(exchange(#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#),
                        #"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}"#)
        try expectReply(exchange(#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method""#),
                        #"{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}"#)
        try expectReply(exchange("[]"),
                        #"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}"#)
        try expectReply(exchange("[1]"),
                        #"[{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}]"#)
        try expectReply(exchange("[1,2,3]"), #"""
            [{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
             {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
             {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}]
            """#)
        try expectReply(exchange(#"""
            [{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
             {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
             {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
             {"foo": "boo"},
             {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
             {"jsonrpc": "2.0", "method": "get_data", "id": "9"}]
            """#.filter { $0 != "\n" }), #"""
            [{"jsonrpc": "2.0", "result": 7, "id": "1"},
             {"jsonrpc": "2.0", "result": 19, "id": "2"},
             {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
             {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
             {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}]
            """#)
        try expectReply(exchange(#"""
            [{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
             {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]
            """#.filter { $0 != "\n" }), nil)
    }

    @Test func aBatchReplyWaitsForItsLastMember() throws {
        let sent = Recorder<[UInt8]>()
        let line = #"[{"jsonrpc":"2.0","method":"a","id":1},{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","method":"b","id":2},{"x":1}]"#
        let calls = RPCDecoder.decode(line: Array(line.utf8)).route { sent.record($0) }
        let responders = calls.compactMap { call -> RPCResponder? in
            if case .request(_, _, let responder) = call { return responder }
            return nil
        }
        #expect(calls.count == 3)
        #expect(responders.map(\.id) == [.number(1), .number(2)])
        #expect(sent.count == 0)
        // Answered out of order; the reply keeps member order.
        #expect(responders[1].respond(result: "second"))
        #expect(sent.count == 0)
        #expect(responders[0].respond(error: .invalidParams("nope")))
        #expect(sent.count == 1)
        let reply = try json(sent.all[0])
        #expect(reply.arrayValue?.count == 3)
        #expect(reply[0]?["id"] == 1)
        #expect(reply[0]?["error"]?["code"] == -32602)
        #expect(reply[1]?["result"] == "second")
        #expect(reply[2]?["id"]?.isNull == true)
        #expect(reply[2]?["error"]?["code"] == -32600)
        // Answering again changes nothing.
        #expect(!responders[0].respond(result: 1))
        #expect(sent.count == 1)
    }

    @Test func aRequestIsAnsweredExactlyOnce() throws {
        let sent = Recorder<[UInt8]>()
        let calls = RPCDecoder.decode(line: Array(#"{"jsonrpc":"2.0","method":"ping","id":"p"}"#.utf8)).route { sent.record($0) }
        guard case .request(let method, let params, let responder)? = calls.first else {
            Issue.record("expected a request")
            return
        }
        #expect(method == "ping")
        #expect(params == nil)
        #expect(calls.first?.method == "ping")
        #expect(!responder.hasResponded)
        #expect(responder.respond(result: [:]))
        #expect(responder.hasResponded)
        #expect(!responder.respond(error: .internalError("late")))
        #expect(sent.count == 1)
        #expect(try json(sent.all[0]) == ["jsonrpc": "2.0", "id": "p", "result": [:]])
    }

    @Test func aDroppedResponderAnswersInternalError() throws {
        let sent = Recorder<[UInt8]>()
        do {
            let calls = RPCDecoder.decode(line: Array(#"{"jsonrpc":"2.0","method":"gather","id":7}"#.utf8)).route { sent.record($0) }
            #expect(calls.count == 1)
            #expect(sent.count == 0)
        }
        #expect(sent.count == 1)
        let reply = try json(sent.all[0])
        #expect(reply["id"] == 7)
        #expect(reply["error"]?["code"] == -32603)
    }

    @Test func notificationsComeBackWithoutAResponder() {
        let sent = Recorder<[UInt8]>()
        let calls = RPCDecoder.decode(line: Array(#"{"jsonrpc":"2.0","method":"cancel","params":{"id":3}}"#.utf8)).route { sent.record($0) }
        guard case .notification(let method, let params)? = calls.first else {
            Issue.record("expected a notification")
            return
        }
        #expect(method == "cancel")
        #expect(params == ["id": 3])
        #expect(calls.first?.params == ["id": 3])
        #expect(sent.count == 0)
    }

    @Test func batchOfOnlyInvalidMembersIsAnsweredAtOnce() throws {
        let sent = Recorder<[UInt8]>()
        let calls = RPCDecoder.decode(line: Array(#"[1,{"jsonrpc":"2.0","method":"n"},"x"]"#.utf8)).route { sent.record($0) }
        #expect(calls.count == 1)
        #expect(sent.count == 1)
        #expect(try json(sent.all[0]).arrayValue?.count == 2)
    }
}
