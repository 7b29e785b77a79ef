/// Why and where ``JSONParser`` rejected its input.
///
/// Switch on ``kind`` to react (the RPC layer reports ``Kind/invalidUTF8`` as "invalid UTF-8");
/// ``offset`` is the byte position of the first byte that made the input invalid.
public struct JSONParseError: Error, Sendable, Hashable {
    /// What was wrong.
    public let kind: Kind
    /// Byte offset into the input of the offending byte (the input's length when it ended early).
    public let offset: Int

    /// Creates an error of `kind` at byte `offset`.
    public init(kind: Kind, offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    /// A one-line human explanation, for example `invalid UTF-8 at byte 12`.
    public var message: String {
        "\(kind.summary) at byte \(offset)"
    }
}

extension JSONParseError: CustomStringConvertible {
    /// The same text as ``message``.
    public var description: String {
        message
    }
}
