import CHiredis
import FuzzSupport
import VolleyRedis

// fuzz-redis: replies of a Redis server (RESP bytes, parsed by hiredis's own reader as a
// connection's are) as Volley reads them: copied into `RedisValue`s, then read as the
// shared-limits script's answers (numbers, errors, an acquire's grant). hiredis parses the
// wire; what is fuzzed is our reading of what it hands over. Also a `redis://` URL.
//
// Input: the first line (up to `\n`) is a Redis URL; the rest is the stream of replies.
//
// Checks: nothing traps; a grant has as many starts as the script says it granted.

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let url = input.field(separator: 0x0A)
    if let parsed = try? RedisURL(String(decoding: url, as: UTF8.self)) {
        require(!parsed.host.isEmpty && (1...65535).contains(parsed.port) && parsed.database >= 0, "URL read as \(parsed)")
        if let password = parsed.password, !password.isEmpty {
            require(!containsBytes(parsed.description.utf8, password.utf8) || parsed.description.contains("***"), "a URL shows its password")
        }
    }
    for reply in RedisTarget.replies(Array(input.rest)) {
        _ = reply.text
        _ = reply.elements
        switch SharedLimitClient.scriptResult(reply) {
        case .success(let numbers):
            require(numbers.count >= 2, "a script answer of \(numbers.count) numbers")
            if let grant = SharedGrant(reply: numbers) {
                require(grant.granted == Int(numbers[0]), "a grant of \(grant.granted) for \(numbers)")
            }
        case .failure(let error):
            require(!error.message.isEmpty, "an error without a message")
        }
    }
    return 0
}

@main
enum Main {
    static func main() { FuzzDriver.main(testOneInput) }
}

enum RedisTarget {
    /// The replies hiredis's reader finds in `bytes`, up to the first protocol error.
    ///
    /// hiredis (0.14) allocates an array's element pointers when it reads the array's header,
    /// before any element: `*290367271` is a 2.3 GB allocation, which libFuzzer reports as
    /// out of memory. That is hiredis's (and a hostile server's) doing, not our reading of
    /// replies, so the stream is cut before an array header of more than 65,536 elements.
    static func replies(_ bytes: [UInt8]) -> [RedisValue] {
        let bytes = bytes.prefix(upTo: hugeArrayHeader(in: bytes) ?? bytes.count)
        guard let reader = redisReaderCreate() else { return [] }
        defer { redisReaderFree(reader) }
        let fed = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { redisReaderFeed(reader, $0.baseAddress, $0.count) }
        }
        guard fed == REDIS_OK else { return [] }
        var values: [RedisValue] = []
        while values.count < 64 {
            var reply: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &reply) == REDIS_OK, let reply else { break }
            values.append(RedisConnection.value(UnsafeRawPointer(reply)))
            freeReplyObject(reply)
        }
        return values
    }

    /// Where the first `*N` with N above 65,536 starts (anywhere: cutting a bulk string that
    /// happens to hold one only shortens the input).
    private static func hugeArrayHeader(in bytes: [UInt8]) -> Int? {
        var index = 0
        while let star = bytes[index...].firstIndex(of: UInt8(ascii: "*")) {
            let digits = bytes[(star + 1)...].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            if digits.count > 5 || (Int(String(decoding: digits, as: UTF8.self)) ?? 0) > 65_536 { return star }
            index = star + 1
        }
        return nil
    }
}
