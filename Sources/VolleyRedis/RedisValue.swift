/// A Redis reply, copied out of hiredis's.
public enum RedisValue: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisValue])
    case null
    /// An error reply (`-ERR ...`, `-NOSCRIPT ...`): the server's answer, not a broken connection.
    case error(String)

    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    public var text: String? {
        switch self {
        case .string(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let text), .error(let text): return text
        default: return nil
        }
    }

    public var elements: [RedisValue]? {
        if case .array(let values) = self { return values }
        return nil
    }
}

/// Why Redis could not be used.
public struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The URL is not one we can use (bad form, or `rediss://`).
        case configuration
        /// Connecting, writing or reading failed, or timed out: Redis is unreachable or slow.
        case unavailable
        /// Redis answered with an error (a script error, a refused AUTH).
        case server
    }

    public var kind: Kind
    /// Never holds a password: messages are built from the host, port and server replies only.
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
