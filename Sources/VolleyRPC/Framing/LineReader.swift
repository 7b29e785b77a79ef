import Dispatch
import Synchronization
import VolleySystem
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Reads `\n`-delimited lines from a file descriptor (stdin) on one dedicated thread.
///
/// ``start()`` spawns a thread that loops on blocking `read(2)` into a 64 KiB buffer, splits the
/// bytes with a ``LineSplitter`` and calls the handler with each ``LineEvent``, in order, on that
/// thread. The handler should be quick (decode and hand off); while it runs, nothing is read.
/// The thread ends after delivering ``LineEvent/eof`` or ``LineEvent/readError(errno:)``. `EINTR` is
/// retried; on a non-blocking descriptor `EAGAIN` waits with `poll(2)`.
///
/// Backpressure: ``pause()`` makes the thread block before its next `read(2)` until ``resume()``,
/// so input the host keeps writing stays in the pipe and our memory does not grow. A read that is
/// already in progress still completes and its lines are still delivered. Pausing is a flag, not a
/// count: one `resume()` undoes any number of `pause()` calls.
///
/// The reader never closes the descriptor; its owner does, after the reader has finished.
public final class LineReader: Sendable {
    /// The descriptor read from.
    public let fd: Int32
    /// The longest accepted line, in bytes (see ``LineSplitter/maxLineBytes``).
    public let maxLineBytes: Int

    private let readBufferBytes: Int
    private let handler: @Sendable (LineEvent) -> Void
    /// Test hook: called on the reader thread each time it parks because it is paused.
    private let onPark: (@Sendable () -> Void)?
    private let gate = Locked(Gate())
    /// Signalled exactly once for each time the thread parks (see `waitWhilePaused`).
    private let wakeUp = DispatchSemaphore(value: 0)
    private let readByteCount = Atomic<Int>(0)

    private struct Gate {
        var isPaused = false
        var isParked = false
        var isStarted = false
    }

    /// Creates a reader of `fd` that delivers events to `handler`; call ``start()`` to begin.
    ///
    /// - Parameters:
    ///   - fd: the descriptor to read; stdin by default. Not closed by the reader.
    ///   - maxLineBytes: longer lines are discarded and reported as ``LineEvent/tooLong(byteCount:)``.
    ///   - readBufferBytes: the size of each `read(2)`; 64 KiB by default.
    ///   - handler: called on the reader thread, one event at a time.
    public convenience init(
        fd: Int32 = STDIN_FILENO,
        maxLineBytes: Int = LineSplitter.defaultMaxLineBytes,
        readBufferBytes: Int = 64 * 1024,
        handler: @escaping @Sendable (LineEvent) -> Void
    ) {
        self.init(fd: fd, maxLineBytes: maxLineBytes, readBufferBytes: readBufferBytes, onPark: nil, handler: handler)
    }

    init(
        fd: Int32,
        maxLineBytes: Int,
        readBufferBytes: Int,
        onPark: (@Sendable () -> Void)?,
        handler: @escaping @Sendable (LineEvent) -> Void
    ) {
        self.fd = fd
        self.maxLineBytes = maxLineBytes
        self.readBufferBytes = max(1, readBufferBytes)
        self.onPark = onPark
        self.handler = handler
    }

    /// Starts the reader thread; later calls do nothing.
    ///
    /// - Throws: ``ThreadStartError`` if the thread cannot be created.
    public func start() throws(ThreadStartError) {
        let first = gate.withLock { gate in
            defer { gate.isStarted = true }
            return !gate.isStarted
        }
        guard first else { return }
        do {
            try DetachedThread.start(name: "volley-reader") { [self] in run() }
        } catch {
            gate.withLock { $0.isStarted = false }
            throw error
        }
    }

    /// Stops reading before the next `read(2)` until ``resume()``. Safe from any thread,
    /// including the handler.
    public func pause() {
        gate.withLock { $0.isPaused = true }
    }

    /// Lets a paused reader read again. Safe from any thread.
    public func resume() {
        let wasParked = gate.withLock { gate in
            gate.isPaused = false
            defer { gate.isParked = false }
            return gate.isParked
        }
        if wasParked {
            wakeUp.signal()
        }
    }

    /// Whether ``pause()`` is in effect.
    public var isPaused: Bool {
        gate.withLock { $0.isPaused }
    }

    /// The total number of bytes read so far.
    public var bytesRead: Int {
        readByteCount.load(ordering: .relaxed)
    }

    private func run() {
        var splitter = LineSplitter(maxLineBytes: maxLineBytes)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readBufferBytes, alignment: 16)
        defer { buffer.deallocate() }
        guard let base = buffer.baseAddress else { return }
        while true {
            waitWhilePaused()
            let count = read(fd, base, buffer.count)
            if count > 0 {
                readByteCount.add(count, ordering: .relaxed)
                splitter.feed(UnsafeRawBufferPointer(start: base, count: count)) { event in
                    handler(LineEvent(event))
                }
            } else if count == 0 {
                if let last = splitter.finish() {
                    handler(LineEvent(last))
                }
                handler(.eof)
                return
            } else {
                let code = errno
                switch code {
                case EINTR:
                    continue
                case EAGAIN, EWOULDBLOCK:
                    var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    _ = poll(&descriptor, 1, -1)
                default:
                    handler(.readError(errno: code))
                    return
                }
            }
        }
    }

    /// Blocks the reader thread while paused. Each park is matched by exactly one `signal` from
    /// `resume()`, so the semaphore's count never runs ahead.
    private func waitWhilePaused() {
        while true {
            let mustPark = gate.withLock { gate in
                if gate.isPaused { gate.isParked = true }
                return gate.isPaused
            }
            guard mustPark else { return }
            onPark?()
            wakeUp.wait()
        }
    }
}
