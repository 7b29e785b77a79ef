/// A dedicated I/O thread could not be created (`pthread_create` failed).
public struct ThreadStartError: Error, Sendable, Hashable {
    /// The error number `pthread_create` returned, such as `EAGAIN` at the process's thread limit.
    public let code: Int32

    /// Creates an error for `pthread_create`'s return value `code`.
    public init(code: Int32) {
        self.code = code
    }
}
