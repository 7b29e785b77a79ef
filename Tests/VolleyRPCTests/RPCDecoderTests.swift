import Testing
import VolleyCore
import VolleyRPC

@Suite("RPCDecoder")
struct RPCDecoderTests {
    private func decode(_ text: String) -> RPCInbound {
        RPCDecoder.decode(line: Array(text.utf8))
    }

    private func single(_ text: String) -> RPCMessage? {
        guard case .single(let message) = decode(text) else { return nil }
        return message
    }

    private func invalidID(_ text: String) -> RPCID? {
        guard case .invalid(let id, let error)? = single(text), error.code == .invalidRequest else { return nil }
        return id
    }

    // MARK: The JSON-RPC 2.0 specification's examples, as requests.

    @Test func positionalAndNamedParameters() {
        #expect(single(#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#)
            == .request(id: .number(1), method: "subtract", params: [42, 23]))
        #expect(single(#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#)
            == .request(id: .number(3), method: "subtract", params: ["subtrahend": 23, "minuend": 42]))
    }

    @Test func notifications() {
        #expect(single(#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#)
            == .notification(method: "update", params: [1, 2, 3, 4, 5]))
        #expect(single(#"{"jsonrpc": "2.0", "method": "foobar"}"#) == .notification(method: "foobar", params: nil))
    }

    @Test func invalidJSONIsAParseError() {
        guard case .parseError(let error) = decode(#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#) else {
            Issue.record("expected a parse error")
            return
        }
        #expect(error.code == .parseError)
        #expect(error.message.hasPrefix("Parse error: invalid JSON"))
        guard case .parseError = decode(#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method""#) else {
            Issue.record("expected a parse error for the truncated batch")
            return
        }
    }

    @Test func invalidRequestObject() {
        #expect(invalidID(#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#) == .null)
    }

    @Test func emptyArrayIsOneInvalidRequest() {
        guard case .single(.invalid(let id, let error)) = decode("[]") else {
            Issue.record("expected one invalid request")
            return
        }
        #expect(id == .null)
        #expect(error.code == .invalidRequest)
    }

    @Test func nonEmptyInvalidBatches() {
        guard case .batch(let one) = decode("[1]"), case .batch(let three) = decode("[1,2,3]") else {
            Issue.record("expected batches")
            return
        }
        #expect(one.count == 1)
        #expect(three.count == 3)
        for message in one + three {
            guard case .invalid(.null, let error) = message else {
                Issue.record("expected invalid, got \(message)")
                continue
            }
            #expect(error.code == .invalidRequest)
        }
    }

    @Test func mixedBatch() {
        let line = #"""
        [{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
         {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
         {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
         {"foo": "boo"},
         {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
         {"jsonrpc": "2.0", "method": "get_data", "id": "9"}]
        """#
        guard case .batch(let messages) = decode(String(line.filter { $0 != "\n" })) else {
            Issue.record("expected a batch")
            return
        }
        #expect(messages.count == 6)
        #expect(messages[0] == .request(id: .string("1"), method: "sum", params: [1, 2, 4]))
        #expect(messages[1] == .notification(method: "notify_hello", params: [7]))
        #expect(messages[2] == .request(id: .string("2"), method: "subtract", params: [42, 23]))
        #expect(messages[3].expectsReply)
        if case .invalid(let id, _) = messages[3] { #expect(id == .null) } else { Issue.record("member 3 must be invalid") }
        #expect(messages[4] == .request(id: .string("5"), method: "foo.get", params: ["name": "myself"]))
        #expect(messages[5] == .request(id: .string("9"), method: "get_data", params: nil))
        #expect(messages.map(\.expectsReply) == [true, false, true, true, true, true])
    }

    // MARK: Beyond the specification's examples.

    @Test(arguments: [#"{"jsonrpc":"2.0","method":"x","id":1"#, #"{"jsonrpc":"2.0""#, "[", "{", "\"abc"])
    func truncatedJSON(_ text: String) {
        guard case .parseError(let error) = decode(text) else {
            Issue.record("expected a parse error")
            return
        }
        #expect(error.message.contains("unexpected end of input"))
    }

    @Test func trailingGarbageAfterAValidValue() {
        guard case .parseError(let error) = decode(#"{"jsonrpc":"2.0","method":"ping","id":1} x"#) else {
            Issue.record("expected a parse error")
            return
        }
        #expect(error.message.contains("at byte 41"))
    }

    @Test func invalidUTF8IsNamedAsSuch() {
        let line = Array(#"{"jsonrpc":"2.0","method":""#.utf8) + [0xC0, 0xAF] + Array(#"","id":1}"#.utf8)
        guard case .parseError(let error) = RPCDecoder.decode(line: line) else {
            Issue.record("expected a parse error")
            return
        }
        #expect(error.code == .parseError)
        #expect(error.message == "Parse error: invalid UTF-8 at byte 27")
    }

    @Test(arguments: [
        #"{"jsonrpc":"1.0","method":"x","id":7}"#,
        #"{"jsonrpc":2.0,"method":"x","id":7}"#,
        #"{"method":"x","id":7}"#,
        #"{"jsonrpc":"2.0","method":"x","params":5,"id":7}"#,
        #"{"jsonrpc":"2.0","method":"x","params":"bar","id":7}"#,
        #"{"jsonrpc":"2.0","method":"x","params":null,"id":7}"#,
        #"{"jsonrpc":"2.0","id":7}"#,
        #"{"jsonrpc":"2.0","method":null,"id":7}"#,
        #"{"jsonrpc":"2.0","result":19,"id":7}"#,
        #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"x"},"id":7}"#,
    ])
    func invalidRequestsKeepTheirValidID(_ text: String) {
        #expect(invalidID(text) == .number(7))
    }

    @Test(arguments: [
        #"{"jsonrpc":"2.0","method":"x","id":{}}"#,
        #"{"jsonrpc":"2.0","method":"x","id":[1]}"#,
        #"{"jsonrpc":"2.0","method":"x","id":true}"#,
        #"{"jsonrpc":"1.0","method":"x","id":{"a":1}}"#,
        #""just a string""#,
        "42",
        "null",
    ])
    func invalidIDsOrShapesAnswerWithNullID(_ text: String) {
        #expect(invalidID(text) == .null)
    }

    @Test func idsAreKeptExactly() throws {
        let huge = "123456789012345678901234567890"
        #expect(single(#"{"jsonrpc":"2.0","method":"x","id":\#(huge)}"#)
            == .request(id: .number(try #require(JSONNumber(text: huge))), method: "x", params: nil))
        #expect(single(#"{"jsonrpc":"2.0","method":"x","id":1.50e3}"#)
            == .request(id: .number(try #require(JSONNumber(text: "1.50e3"))), method: "x", params: nil))
        #expect(single(#"{"jsonrpc":"2.0","method":"x","id":"ключ-😀\n\u0000"}"#)
            == .request(id: .string("ключ-😀\n\u{0}"), method: "x", params: nil))
        #expect(single(#"{"jsonrpc":"2.0","method":"x","id":""}"#) == .request(id: .string(""), method: "x", params: nil))
    }

    @Test func requestWithNullIDIsARequest() {
        #expect(single(#"{"jsonrpc":"2.0","method":"ping","id":null}"#) == .request(id: .null, method: "ping", params: nil))
    }

    @Test func unknownMembersAreIgnored() {
        #expect(single(#"{"jsonrpc":"2.0","method":"ping","id":1,"extra":true}"#) == .request(id: .number(1), method: "ping", params: nil))
    }
}
