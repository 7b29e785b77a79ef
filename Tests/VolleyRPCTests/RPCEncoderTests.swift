import Testing
import VolleyCore
import VolleyRPC

@Suite("RPCEncoder")
struct RPCEncoderTests {
    private func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    @Test func responses() throws {
        #expect(text(RPCEncoder.response(id: .number(1), result: 19)) == #"{"jsonrpc":"2.0","id":1,"result":19}"#)
        #expect(text(RPCEncoder.response(id: .string("a\"b"), result: ["ok": true]))
            == #"{"jsonrpc":"2.0","id":"a\"b","result":{"ok":true}}"#)
        #expect(text(RPCEncoder.response(id: .null, result: .null)) == #"{"jsonrpc":"2.0","id":null,"result":null}"#)
    }

    @Test func hugeAndUnicodeIDsAreEchoedExactly() throws {
        let huge = try #require(JSONNumber(text: "123456789012345678901234567890"))
        #expect(text(RPCEncoder.response(id: .number(huge), result: [:])) == #"{"jsonrpc":"2.0","id":123456789012345678901234567890,"result":{}}"#)
        let line = RPCEncoder.response(id: .string("ключ-😀\n"), result: 1)
        #expect(!line.contains(0x0A))
        #expect(try json(line)["id"] == "ключ-😀\n")
    }

    @Test func errors() throws {
        let plain = RPCEncoder.errorResponse(id: .number(5), error: .methodNotFound("foo.get"))
        #expect(text(plain) == #"{"jsonrpc":"2.0","id":5,"error":{"code":-32601,"message":"Method not found: foo.get"}}"#)
        let withData = RPCEncoder.errorResponse(id: .null, error: .lineTooLong(byteCount: 20, maxLineBytes: 10))
        #expect(try json(withData) == [
            "jsonrpc": "2.0", "id": .null,
            "error": ["code": -32010, "message": "Line too long: 20 bytes, the limit is 10",
                      "data": ["byte_count": 20, "max_line_bytes": 10]],
        ])
        let overloaded = try json(RPCEncoder.errorResponse(id: .number(1), error: .overloaded(retryAfterMs: 250)))
        #expect(overloaded["error"]?["data"]?["retry_after_ms"] == 250)
    }

    @Test func everyProtocolErrorCode() {
        #expect(RPCErrorCode.allCases.map(\.rawValue) == [-32700, -32600, -32601, -32602, -32603, -32010, -32011, -32012, -32800, -32803])
        #expect(RPCError.invalidParams("x").code == .invalidParams)
        #expect(RPCError.internalError("x").code == .internalError)
        #expect(RPCError.requestCancelled(data: ["results": []]).code == .requestCancelled)
        #expect(RPCError.requestFailed("x", data: nil).code == .requestFailed)
        #expect(RPCError.invalidRequest("x").message == "Invalid Request: x")
    }

    @Test func notificationsAndRequests() throws {
        #expect(text(RPCEncoder.notification(method: "item", params: ["request": 3, "index": 0]))
            == #"{"jsonrpc":"2.0","method":"item","params":{"request":3,"index":0}}"#)
        #expect(text(RPCEncoder.notification(method: "exit", params: nil)) == #"{"jsonrpc":"2.0","method":"exit"}"#)
        let request = RPCEncoder.request(id: .number(9), method: "ping", params: [:])
        #expect(RPCDecoder.decode(line: request) == .single(.request(id: .number(9), method: "ping", params: [:])))
    }

    @Test func batches() throws {
        let joined = RPCEncoder.batch([RPCEncoder.response(id: .number(1), result: 7), RPCEncoder.response(id: .number(2), result: 19)])
        #expect(try json(joined) == [
            ["jsonrpc": "2.0", "id": 1, "result": 7],
            ["jsonrpc": "2.0", "id": 2, "result": 19],
        ])
    }
}
