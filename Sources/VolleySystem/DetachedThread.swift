#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Runs a closure on its own detached POSIX thread: the blocking `read(2)` and `write(2)` loops of
/// the stdio transport and the HTTP transport's event loop must never occupy Swift
/// concurrency's small cooperative pool.
public final class DetachedThread: Sendable {
    private let name: String
    private let body: @Sendable () -> Void

    private init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }

    /// Starts `body` on a new detached thread called `name` (where the platform allows naming).
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) throws(ThreadStartError) {
        let entry = Unmanaged.passRetained(DetachedThread(name: name, body: body))
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { argument in
            let pointer: UnsafeMutableRawPointer? = argument
            guard let pointer else { return nil }
            let entry = Unmanaged<DetachedThread>.fromOpaque(pointer).takeRetainedValue()
            entry.run()
            return nil
        }, entry.toOpaque())
        guard result == 0 else {
            entry.release()
            throw ThreadStartError(code: result)
        }
    }

    private func run() {
        // Glibc's module does not export pthread_setname_np (it needs _GNU_SOURCE), so the
        // name is not set on the thread yet.
        body()
    }
}
