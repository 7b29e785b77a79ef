import VolleyJSON

/// Encodes outgoing JSON-RPC 2.0 messages as compact JSON bytes (no trailing newline; the
/// ``FrameWriter`` adds it).
///
/// Member order is fixed: `jsonrpc`, then `id`, then `result`/`error` (or `method`, `params`).
public enum RPCEncoder {
    /// `{"jsonrpc":"2.0","id":ID,"result":RESULT}`.
    public static func response(id: RPCID, result: JSONValue) -> [UInt8] {
        var bytes = header(capacity: 64)
        appendID(id, to: &bytes)
        append(#","result":"#, to: &bytes)
        result.write(into: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// `{"jsonrpc":"2.0","id":ID,"result":` in a buffer with room for `capacity` bytes: the
    /// start of a response whose result is written straight after it (a big batch's reply is
    /// built in place this way, never copied into a second buffer); close it with `}`.
    public static func responseHead(id: RPCID, capacity: Int) -> [UInt8] {
        var bytes = header(capacity: capacity)
        appendID(id, to: &bytes)
        append(#","result":"#, to: &bytes)
        return bytes
    }

    /// `{"jsonrpc":"2.0","method":METHOD,"params":PARAMS}` with `params` already encoded.
    public static func notification(method: String, encodedParams: [UInt8]) -> [UInt8] {
        var bytes = header(capacity: encodedParams.count + 48)
        append(#""method":"#, to: &bytes)
        JSONWriter.writeString(method, into: &bytes)
        append(#","params":"#, to: &bytes)
        bytes.append(contentsOf: encodedParams)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// `{"jsonrpc":"2.0","id":ID,"error":{"code":..,"message":..,"data":..}}`.
    public static func errorResponse(id: RPCID, error: RPCError) -> [UInt8] {
        var bytes = header(capacity: 96)
        appendID(id, to: &bytes)
        append(#","error":"#, to: &bytes)
        error.jsonValue.write(into: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// `{"jsonrpc":"2.0","method":METHOD,"params":PARAMS}` (no `params` when `nil`).
    public static func notification(method: String, params: JSONValue?) -> [UInt8] {
        var bytes = header(capacity: 64)
        append(#""method":"#, to: &bytes)
        JSONWriter.writeString(method, into: &bytes)
        appendParams(params, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// `{"jsonrpc":"2.0","id":ID,"method":METHOD,"params":PARAMS}`: what a host sends; for tests
    /// and Swift clients.
    public static func request(id: RPCID, method: String, params: JSONValue?) -> [UInt8] {
        var bytes = header(capacity: 64)
        appendID(id, to: &bytes)
        append(#","method":"#, to: &bytes)
        JSONWriter.writeString(method, into: &bytes)
        appendParams(params, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// Joins already encoded replies into one batch reply array `[R1,R2,...]`.
    ///
    /// Never call this with no replies: a batch without replies is answered with nothing at all.
    /// ``RPCInbound/route(replyingWith:)`` takes care of that.
    public static func batch(_ replies: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(replies.reduce(2) { $0 + $1.count + 1 })
        bytes.append(UInt8(ascii: "["))
        for (position, reply) in replies.enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: reply)
        }
        bytes.append(UInt8(ascii: "]"))
        return bytes
    }

    private static func header(capacity: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(capacity)
        append(#"{"jsonrpc":"2.0","#, to: &bytes)
        return bytes
    }

    private static func appendID(_ id: RPCID, to bytes: inout [UInt8]) {
        append(#""id":"#, to: &bytes)
        id.jsonValue.write(into: &bytes)
    }

    private static func appendParams(_ params: JSONValue?, to bytes: inout [UInt8]) {
        guard let params else { return }
        append(#","params":"#, to: &bytes)
        params.write(into: &bytes)
    }

    private static func append(_ literal: StaticString, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }
}
