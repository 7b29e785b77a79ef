/// The status line and header fields of a response.
///
/// A response from the transport keeps its header lines as received and makes strings only for
/// the fields that are read: an LLM reply carries ~20 headers and the engine reads a handful.
public struct HTTPResponseHead: Sendable, Hashable {
    public var status: Int
    public var version: HTTPVersion
    private var storage: Storage

    private enum Storage: Sendable {
        case fields(HTTPHeaders)
        /// `name: value` lines, each ended by `\n`, as received (CR and LF stripped).
        case lines([UInt8])
    }

    /// Header fields, names lowercased.
    public var headers: HTTPHeaders {
        get {
            switch storage {
            case .fields(let fields): return fields
            case .lines(let lines): return Self.fields(of: lines) { _ in true }
            }
        }
        set { storage = .fields(newValue) }
    }

    public init(status: Int, headers: HTTPHeaders, version: HTTPVersion) {
        self.status = status
        self.version = version
        storage = .fields(headers)
    }

    /// A head over raw header lines (`name: value\n` each), parsed when read.
    package init(status: Int, headerLines: [UInt8], version: HTTPVersion) {
        self.status = status
        self.version = version
        storage = .lines(headerLines)
    }

    /// The fields whose lowercased names start with one of `prefixes` (lowercase ASCII), in
    /// order; no string is made for the other fields. Names are compared byte by byte, ASCII
    /// letters ignoring case, in both forms (`hasPrefix` compares characters: a combining mark
    /// after the prefix made another character of its last one, and the forms disagreed).
    public func headers(withNamePrefixes prefixes: [String]) -> HTTPHeaders {
        switch storage {
        case .fields(let fields):
            return HTTPHeaders(fields.fields.filter { field in
                prefixes.contains { prefix in
                    prefix.utf8.count <= field.name.utf8.count && zip(prefix.utf8, field.name.utf8).allSatisfy { $0 == Self.lowercase($1) }
                }
            })
        case .lines(let lines):
            return Self.fields(of: lines) { name in
                prefixes.contains { prefix in
                    prefix.utf8.count <= name.count && zip(prefix.utf8, name).allSatisfy { $0 == Self.lowercase($1) }
                }
            }
        }
    }

    public static func == (a: HTTPResponseHead, b: HTTPResponseHead) -> Bool {
        a.status == b.status && a.version == b.version && a.headers == b.headers
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(status)
        hasher.combine(version)
        hasher.combine(headers)
    }

    @inline(__always)
    private static func lowercase(_ byte: UInt8) -> UInt8 {
        (byte >= 65 && byte <= 90) ? byte | 0x20 : byte
    }

    /// Parses `lines`, keeping the fields whose raw name `keep` accepts.
    private static func fields(of lines: [UInt8], keep: (Slice<UnsafeBufferPointer<UInt8>>) -> Bool) -> HTTPHeaders {
        lines.withUnsafeBufferPointer { buffer in
            var fields: [HTTPHeaders.Field] = []
            var lineStart = 0
            while lineStart < buffer.count {
                var lineEnd = lineStart
                while lineEnd < buffer.count, buffer[lineEnd] != 0x0A { lineEnd += 1 }
                let line = buffer[lineStart..<lineEnd]
                lineStart = lineEnd + 1
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
                let name = line[line.startIndex..<colon]
                guard keep(name) else { continue }
                var valueStart = colon + 1
                var valueEnd = line.endIndex
                while valueStart < valueEnd, line[valueStart] == 0x20 || line[valueStart] == 0x09 { valueStart += 1 }
                while valueEnd > valueStart, line[valueEnd - 1] == 0x20 || line[valueEnd - 1] == 0x09 { valueEnd -= 1 }
                let nameText = String(unsafeUninitializedCapacity: name.count) { target in
                    var count = 0
                    for byte in name {
                        target[count] = lowercase(byte)
                        count += 1
                    }
                    return count
                }
                fields.append(HTTPHeaders.Field(name: nameText, value: String(decoding: line[valueStart..<valueEnd], as: UTF8.self)))
            }
            return HTTPHeaders(fields)
        }
    }
}

/// The HTTP version a transfer used.
public enum HTTPVersion: Sendable, Hashable {
    case http1_0, http1_1, http2, http3, unknown
}

/// What libcurl measured about one transfer.
public struct HTTPTransferInfo: Sendable, Hashable {
    /// True when the transfer ran on a connection that was already open (pooled or
    /// multiplexed); false when it opened a new one.
    public var connectionReused: Bool
    public var httpVersion: HTTPVersion
    /// Seconds from the start of the transfer until the TCP connect finished (0 when reused).
    public var connectSeconds: Double
    /// Seconds from the start until the first response byte arrived.
    public var timeToFirstByteSeconds: Double
    /// Seconds from the start until the transfer ended.
    public var totalSeconds: Double
    /// `Retry-After` as parsed by libcurl (delta seconds or HTTP date), when present.
    public var retryAfterSeconds: Int?

    public init(
        connectionReused: Bool,
        httpVersion: HTTPVersion,
        connectSeconds: Double,
        timeToFirstByteSeconds: Double,
        totalSeconds: Double,
        retryAfterSeconds: Int?
    ) {
        self.connectionReused = connectionReused
        self.httpVersion = httpVersion
        self.connectSeconds = connectSeconds
        self.timeToFirstByteSeconds = timeToFirstByteSeconds
        self.totalSeconds = totalSeconds
        self.retryAfterSeconds = retryAfterSeconds
    }
}

/// A complete, buffered response.
public struct HTTPResponse: Sendable {
    public var head: HTTPResponseHead
    public var body: [UInt8]
    public var info: HTTPTransferInfo

    public var status: Int { head.status }
    public var headers: HTTPHeaders { head.headers }

    public init(head: HTTPResponseHead, body: [UInt8], info: HTTPTransferInfo) {
        self.head = head
        self.body = body
        self.info = info
    }
}

/// One event of a streamed response, in order: `head` once, then `body` chunks or SSE
/// `event`s, then `end` once. Errors end the stream by throwing `HTTPClientError`.
public enum HTTPStreamEvent: Sendable {
    case head(HTTPResponseHead)
    /// Raw body bytes: every chunk when the stream was opened without SSE parsing, and
    /// the (error) body of a non-2xx response when it was opened with SSE parsing.
    case body([UInt8])
    /// One server-sent event of a 2xx response opened with SSE parsing.
    case event(SSEEvent)
    case end(HTTPTransferInfo)
}
