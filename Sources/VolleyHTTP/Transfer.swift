/// One running transfer: its easy handle and what has arrived so far.
///
/// Confined to the transport thread: created there when admitted, touched by libcurl's
/// callbacks (which run inside `curl_multi_socket_action` on that thread) and ended there. The
/// loop's table of live transfers keeps it alive while libcurl holds its unretained pointer.
final class Transfer {
    let id: UInt64
    let origin: Origin
    let sink: TransferSink
    /// The limits set on its handle, for telling timeouts apart (`TransferFailure`): the
    /// whole-transfer limit and the low-speed window, in seconds (nil: none).
    let timeoutSeconds: Double?
    let stallSeconds: Int?
    /// The easy handle while the transfer has one (from the loop's pool, returned when it ends).
    var easy: EasyHandle?
    /// The request's header list, held while libcurl may read it.
    var headerList: HeaderList?
    /// Set when the transfer used an option with no safe default to reset it to (a CA file),
    /// so its handle is freed rather than reused.
    var handleIsSpecial = false

    // Response state, filled in by the callbacks.
    private(set) var status = 0
    private(set) var version: HTTPVersion = .unknown
    /// The current header block's lines (`name: value\n` each), turned into strings only
    /// when read.
    private var headerLines: [UInt8] = []
    static let headerLinesCapacity = 1024
    private(set) var head: HTTPResponseHead?
    private(set) var body: [UInt8] = []
    private var sseParser: SSEParser?
    private(set) var sawTerminalEvent = false
    /// Where the transfer reports its final response head, so the loop learns the origin's
    /// protocol without scanning every live transfer.
    private let heads: HeadLog

    /// Set when the body outgrew `maxResponseBytes` and the transfer was aborted for it.
    private(set) var exceededMaxResponseBytes = false
    let maxResponseBytes: Int
    /// Bytes of response body received, whichever the sink.
    private(set) var receivedBodyBytes = 0
    /// The request body's size (0 without one), to tell whether libcurl sent all of it.
    let requestBodyBytes: Int

    init(
        id: UInt64, origin: Origin, sink: TransferSink, timeoutSeconds: Double?, stallSeconds: Int?,
        heads: HeadLog, maxResponseBytes: Int, requestBodyBytes: Int = 0
    ) {
        self.id = id
        self.requestBodyBytes = requestBodyBytes
        self.maxResponseBytes = maxResponseBytes
        self.heads = heads
        self.origin = origin
        self.sink = sink
        self.timeoutSeconds = timeoutSeconds
        self.stallSeconds = stallSeconds
    }

    /// Whether this transfer parses a 2xx body as server-sent events.
    var isSSE: Bool { sseParser != nil }

    // MARK: - Callbacks (transport thread, inside curl_multi_socket_action)

    /// One header line, CRLF included.
    func receiveHeaderLine(_ raw: UnsafeRawBufferPointer) {
        var line = raw[...]
        while let last = line.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") {
            line = line.dropLast()
        }
        if line.starts(with: "HTTP/".utf8) {
            // A new status line: an interim (1xx) response may come before the final one.
            headerLines.removeAll(keepingCapacity: true)
            // "HTTP/1.1 200 OK" or "HTTP/2 200", read without making strings.
            let space = line.firstIndex(of: UInt8(ascii: " ")) ?? line.endIndex
            version = Self.version(line[line.startIndex..<space])
            var code = 0
            var digits = 0
            var index = space
            if index < line.endIndex { index += 1 }
            while index < line.endIndex, line[index] >= UInt8(ascii: "0"), line[index] <= UInt8(ascii: "9"), digits < 3 {
                code = code * 10 + Int(line[index] - UInt8(ascii: "0"))
                digits += 1
                index += 1
            }
            status = digits == 3 ? code : 0
            return
        }
        if line.isEmpty {
            // End of a header block.
            guard head == nil, status >= 200 || status == 0 else { return }
            let head = HTTPResponseHead(status: status, headerLines: headerLines, version: version)
            self.head = head
            heads.transfers.append(self)
            if case .stream(let continuation, let sse) = sink {
                if sse != nil, (200..<300).contains(status) { sseParser = SSEParser() }
                continuation.yield(.head(head))
            }
            return
        }
        guard head == nil else { return }  // Trailers after the body are ignored.
        // One allocation for a typical head (~20 short lines), not one per doubling.
        if headerLines.capacity == 0 { headerLines.reserveCapacity(Self.headerLinesCapacity) }
        headerLines.append(contentsOf: line)
        headerLines.append(0x0A)
    }

    /// Body bytes as they arrive. Returns false to abort the transfer.
    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        receivedBodyBytes += bytes.count
        switch sink {
        case .buffered:
            guard body.count + bytes.count <= maxResponseBytes else {
                exceededMaxResponseBytes = true
                return false
            }
            body.append(contentsOf: bytes)
        case .stream(let continuation, let sse):
            if var parser = sseParser, let sse {
                let events = parser.feed(bytes)
                sseParser = parser
                for event in events {
                    if sse.isTerminal(event) { sawTerminalEvent = true }
                    continuation.yield(.event(event))
                }
            } else {
                continuation.yield(.body(Array(bytes)))
            }
        }
        return true
    }

    // MARK: - The end (transport thread, once libcurl reports the transfer done)

    /// Whether a whole final response has arrived: a status of 200 or more, and either the
    /// body its `Content-Length` announced or an event stream's terminal event. A transfer
    /// libcurl fails after that (an HTTP/2 stream the server ended before reading the rest
    /// of the request: `TransferFailure.isUnsentRequest`) still has its answer.
    var hasCompleteResponse: Bool {
        guard let head, head.status >= 200 else { return false }
        if isSSE { return sawTerminalEvent }
        guard let length = head.headers["content-length"].flatMap({ Int($0) }) else { return false }
        return receivedBodyBytes == length
    }

    /// Resumes the caller with what arrived: the whole response, or the stream's end (or
    /// `.streamTruncated` for an event stream that never sent its terminal event).
    func succeed(info: HTTPTransferInfo) {
        let head = self.head ?? HTTPResponseHead(status: status, headers: HTTPHeaders(), version: version)
        switch sink {
        case .buffered(let continuation):
            continuation.resume(returning: HTTPResponse(head: head, body: body, info: info))
        case .stream(let continuation, _):
            if isSSE, !sawTerminalEvent {
                continuation.finish(throwing: HTTPClientError(
                    .streamTruncated, "the event stream ended before its terminal event"))
            } else {
                continuation.yield(.end(info))
                continuation.finish()
            }
        }
    }

    private static func version(_ token: Slice<UnsafeRawBufferPointer>) -> HTTPVersion {
        if token.elementsEqual("HTTP/1.1".utf8) { return .http1_1 }
        if token.elementsEqual("HTTP/2".utf8) || token.elementsEqual("HTTP/2.0".utf8) { return .http2 }
        if token.elementsEqual("HTTP/1.0".utf8) { return .http1_0 }
        if token.elementsEqual("HTTP/3".utf8) { return .http3 }
        return .unknown
    }
}

/// Transfers whose final response head arrived since the loop last looked. Transport thread only.
final class HeadLog {
    var transfers: [Transfer] = []
}
