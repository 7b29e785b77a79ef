/// A provider configuration that cannot be used. `message` names the offending field.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
