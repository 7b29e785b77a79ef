import NIOHTTP1

/// The bytes of a response whose chunked encoding breaks mid-body, for the `garbage_chunked`
/// and `truncated_chunked` modes: built here as plain bytes (pure, unit-tested), written raw by
/// the connection handler.
enum BrokenChunkedBody {
    /// What stands where a chunk-size line should: not hexadecimal, so no client can read on.
    static let garbageLine = Array("zz-not-a-chunk-size\r\n".utf8)

    /// The status line, `headers` (any `content-length` dropped) with `transfer-encoding:
    /// chunked` and `connection: close`, then the body broken as `garbage` says.
    ///
    /// The body is cut into pieces (a full body into its two halves; SSE events one per piece)
    /// and the first pieces go out as valid chunks (the first half; half of the events, as
    /// `ResponsePlan.partialEventCount` says). Then, with `garbage`, `garbageLine` and the next
    /// piece's bytes; without, a chunk-size line announcing the whole next piece followed by only
    /// half of it. No terminating zero-size chunk is ever sent.
    static func wire(status: Int, headers: [(String, String)], body: ResponsePlan.Body, garbage: Bool) -> [UInt8] {
        var bytes = head(status: status, headers: headers)
        let pieces: [[UInt8]]
        let validCount: Int
        switch body {
        case .full(let all):
            let first = ResponsePlan.partial(of: all)
            pieces = [first, Array(all.dropFirst(first.count))]
            validCount = 1
        case .events(let events):
            pieces = events
            validCount = ResponsePlan.partialEventCount(of: events.count)
        }
        for piece in pieces.prefix(validCount) where !piece.isEmpty {
            bytes += chunk(piece)
        }
        let next = validCount < pieces.count ? pieces[validCount] : []
        if garbage {
            bytes += garbageLine + next
        } else {
            // At least one byte is announced and not all of it sent.
            let announced = max(next.count, 2)
            bytes += Array(String(announced, radix: 16).utf8) + crlf + next.prefix(announced / 2)
        }
        return bytes
    }

    /// One valid chunk: its size in hexadecimal, CRLF, the bytes, CRLF.
    static func chunk(_ piece: [UInt8]) -> [UInt8] {
        Array(String(piece.count, radix: 16).utf8) + crlf + piece + crlf
    }

    private static let crlf: [UInt8] = [0x0D, 0x0A]

    private static func head(status: Int, headers: [(String, String)]) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(reason(status))\r\n"
        for (name, value) in headers {
            let lower = name.lowercased()
            if lower == "content-length" || lower == "transfer-encoding" || lower == "connection" { continue }
            text += "\(name): \(value)\r\n"
        }
        text += "transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        return Array(text.utf8)
    }

    private static func reason(_ status: Int) -> String {
        let phrase = HTTPResponseStatus(statusCode: status).reasonPhrase
        return phrase.isEmpty ? "Status" : phrase
    }
}
