import Dispatch
import VolleySystem
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The only writer of a file descriptor (stdout): queues frames and writes each as one line.
///
/// ``enqueue(_:)`` appends a frame to an in-memory queue and returns at once; one dedicated thread
/// (``start()``) writes the frames in order, each followed by `\n`, each with its own `writev(2)`
/// loop (partial writes continued, `EINTR` retried), so frames never interleave. Frames must not
/// contain a raw `\n` (``JSONWriter`` output never does).
///
/// Backpressure: the queue is bounded by the caller, not by dropping. When the bytes queued or
/// being written reach ``highWatermarkBytes`` the writer calls `onHighWatermark` (stop reading
/// stdin and admitting work); when they fall to ``lowWatermarkBytes`` it calls `onLowWatermark`.
/// The two alternate, starting with high, are never called concurrently, and are called with no
/// lock held, on the enqueuing thread or the writer thread; they may call back into the writer or
/// a ``LineReader``.
///
/// Failure: the first write error (`EPIPE` when the host closed our stdout; SIGPIPE must be
/// ignored, see ``ignoreSIGPIPE()``) calls `onBroken(errno)` once, on the writer thread; queued
/// frames are dropped and later ``enqueue(_:)`` calls return `false`. No watermark callback
/// follows `onBroken`.
///
/// The writer never closes the descriptor.
public final class FrameWriter: Sendable {
    /// The default ``highWatermarkBytes``: 8 MiB.
    public static let defaultHighWatermarkBytes = 8 * 1024 * 1024
    /// The default ``lowWatermarkBytes``: 1 MiB.
    public static let defaultLowWatermarkBytes = 1024 * 1024

    /// The descriptor written to.
    public let fd: Int32
    /// Queued bytes at or above which `onHighWatermark` is called.
    public let highWatermarkBytes: Int
    /// Queued bytes at or below which `onLowWatermark` is called after a high one.
    public let lowWatermarkBytes: Int

    private let onHighWatermark: @Sendable () -> Void
    private let onLowWatermark: @Sendable () -> Void
    private let onBroken: @Sendable (Int32) -> Void
    private let state = Locked(State())
    /// Signalled exactly once for each time the writer thread parks on an empty queue.
    private let wakeUp = DispatchSemaphore(value: 0)

    private struct State {
        /// Frames not yet taken by the writer thread.
        var queue: [[UInt8]] = []
        /// Bytes (newlines included) queued or being written: what the watermarks measure.
        var queuedBytes = 0
        var isAboveHighWatermark = false
        /// The watermark state the callbacks last announced.
        var reportedAboveHighWatermark = false
        /// A thread is running watermark callbacks; others leave `watermarkReportPending`.
        var isReportingWatermark = false
        var watermarkReportPending = false
        var brokenErrno: Int32?
        var isFinishing = false
        var isStarted = false
        var isWriterParked = false
        var flushWaiters = Waiters<Void>()
        /// The writer thread has returned: it will not touch the descriptor again.
        var hasExited = false
        var exitWaiters = Waiters<Void>()
    }

    private enum Step {
        case write([[UInt8]])
        case park
        case exit
    }

    private enum WatermarkReport {
        case done
        case unchanged
        case high
        case low
    }

    /// Creates a writer of `fd`; frames queue until ``start()``.
    ///
    /// - Parameters:
    ///   - fd: the descriptor to write; stdout by default. Not closed by the writer.
    ///   - highWatermarkBytes: queued bytes that trigger `onHighWatermark`; 8 MiB by default.
    ///   - lowWatermarkBytes: queued bytes that trigger `onLowWatermark` after a high one;
    ///     1 MiB by default; clamped to be below the high watermark.
    ///   - onHighWatermark: pause reading and admission here.
    ///   - onLowWatermark: resume them here.
    ///   - onBroken: the descriptor failed with this `errno`; called at most once.
    public init(
        fd: Int32 = STDOUT_FILENO,
        highWatermarkBytes: Int = FrameWriter.defaultHighWatermarkBytes,
        lowWatermarkBytes: Int = FrameWriter.defaultLowWatermarkBytes,
        onHighWatermark: @escaping @Sendable () -> Void = {},
        onLowWatermark: @escaping @Sendable () -> Void = {},
        onBroken: @escaping @Sendable (Int32) -> Void = { _ in }
    ) {
        self.fd = fd
        self.highWatermarkBytes = max(1, highWatermarkBytes)
        self.lowWatermarkBytes = min(max(0, lowWatermarkBytes), self.highWatermarkBytes - 1)
        self.onHighWatermark = onHighWatermark
        self.onLowWatermark = onLowWatermark
        self.onBroken = onBroken
    }

    /// Starts the writer thread; later calls do nothing.
    ///
    /// - Throws: ``ThreadStartError`` if the thread cannot be created.
    public func start() throws(ThreadStartError) {
        let first = state.withLock { state in
            defer { state.isStarted = true }
            return !state.isStarted
        }
        guard first else { return }
        do {
            try DetachedThread.start(name: "volley-writer") { [self] in run() }
        } catch {
            state.withLock { $0.isStarted = false }
            throw error
        }
    }

    /// Queues `frame` to be written followed by `\n`; never blocks and never drops the frame.
    ///
    /// - Returns: `false` if the frame was discarded because the descriptor is broken or
    ///   ``finish()`` was called.
    @discardableResult
    public func enqueue(_ frame: [UInt8]) -> Bool {
        let (accepted, wake, crossedHigh) = state.withLock { state -> (Bool, Bool, Bool) in
            guard state.brokenErrno == nil, !state.isFinishing else { return (false, false, false) }
            state.queue.append(frame)
            state.queuedBytes += frame.count + 1
            var crossedHigh = false
            if !state.isAboveHighWatermark, state.queuedBytes >= highWatermarkBytes {
                state.isAboveHighWatermark = true
                crossedHigh = true
            }
            defer { state.isWriterParked = false }
            return (true, state.isWriterParked, crossedHigh)
        }
        if wake {
            wakeUp.signal()
        }
        if crossedHigh {
            reportWatermarkChanges()
        }
        return accepted
    }

    /// Waits until every frame queued so far (and any queued meanwhile) has been written, or the
    /// descriptor broke. Only the writer thread drains the queue: call ``start()`` first.
    ///
    /// - Returns: `true` if the queue drained, `false` if the descriptor is broken.
    @discardableResult
    public func flush() async -> Bool {
        await state.wait(until: { state in state.queuedBytes > 0 && state.brokenErrno == nil ? nil : () },
                         park: { state, waiter in state.flushWaiters.append(waiter) })
        return brokenErrno == nil
    }

    /// Accepts no more frames; the writer thread ends once the queue is written.
    public func finish() {
        let wake = state.withLock { state in
            state.isFinishing = true
            defer { state.isWriterParked = false }
            return state.isWriterParked
        }
        if wake {
            wakeUp.signal()
        }
    }

    /// Waits until the writer thread has ended (after ``finish()`` and the queue written, or
    /// the descriptor broken), so the descriptor can be closed; returns at once if it never
    /// started.
    public func stopped() async {
        await state.wait(until: { state in state.isStarted && !state.hasExited ? nil : () },
                         park: { state, waiter in state.exitWaiters.append(waiter) })
    }

    /// Bytes queued or being written, one newline per frame included.
    public var queuedBytes: Int {
        state.withLock { $0.queuedBytes }
    }

    /// Whether the high watermark was reached and the low one not yet.
    public var isAboveHighWatermark: Bool {
        state.withLock { $0.isAboveHighWatermark }
    }

    /// The `errno` that broke the descriptor, or `nil` while it works.
    public var brokenErrno: Int32? {
        state.withLock { $0.brokenErrno }
    }

    // MARK: - Writer thread

    private func run() {
        defer {
            state.withLock { state in
                state.hasExited = true
                return state.exitWaiters.takeAll()
            }.resume()
        }
        var newline: UInt8 = 0x0A
        let vectors = UnsafeMutablePointer<iovec>.allocate(capacity: 2)
        defer { vectors.deallocate() }
        withUnsafeMutablePointer(to: &newline) { newline in
            while true {
                let step = state.withLock { state -> Step in
                    if state.brokenErrno != nil { return .exit }
                    if !state.queue.isEmpty {
                        defer { state.queue = [] }
                        return .write(state.queue)
                    }
                    if state.isFinishing { return .exit }
                    state.isWriterParked = true
                    return .park
                }
                switch step {
                case .exit:
                    return
                case .park:
                    wakeUp.wait()
                case .write(let frames):
                    for frame in frames {
                        if let code = writeFully(frame, newline: newline, vectors: vectors) {
                            markBroken(code)
                            return
                        }
                        frameWritten(byteCount: frame.count + 1)
                    }
                }
            }
        }
    }

    /// Writes `frame` and a newline; returns the `errno` of a failed write, or `nil`.
    private func writeFully(
        _ frame: [UInt8],
        newline: UnsafeMutablePointer<UInt8>,
        vectors: UnsafeMutablePointer<iovec>
    ) -> Int32? {
        frame.withUnsafeBytes { body in
            let total = body.count + 1
            var written = 0
            while written < total {
                let result: Int
                if written < body.count, let base = body.baseAddress {
                    vectors[0] = iovec(iov_base: UnsafeMutableRawPointer(mutating: base + written), iov_len: body.count - written)
                    vectors[1] = iovec(iov_base: UnsafeMutableRawPointer(newline), iov_len: 1)
                    result = writev(fd, vectors, 2)
                } else {
                    result = write(fd, newline, 1)
                }
                if result >= 0 {
                    written += result
                    continue
                }
                let code = errno
                switch code {
                case EINTR:
                    continue
                case EAGAIN, EWOULDBLOCK:
                    var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&descriptor, 1, -1)
                default:
                    return code
                }
            }
            return nil
        }
    }

    private func frameWritten(byteCount: Int) {
        let (crossedLow, waiters) = state.withLock { state -> (Bool, Waiters<Void>.Ready) in
            state.queuedBytes -= byteCount
            var crossedLow = false
            if state.isAboveHighWatermark, state.queuedBytes <= lowWatermarkBytes {
                state.isAboveHighWatermark = false
                crossedLow = true
            }
            guard state.queuedBytes == 0 else { return (crossedLow, .none) }
            return (crossedLow, state.flushWaiters.takeAll())
        }
        if crossedLow {
            reportWatermarkChanges()
        }
        waiters.resume()
    }

    private func markBroken(_ code: Int32) {
        let waiters = state.withLock { state in
            state.brokenErrno = code
            state.queue = []
            state.queuedBytes = 0
            return state.flushWaiters.takeAll()
        }
        onBroken(code)
        waiters.resume()
    }

    /// Announces watermark changes in order with no lock held. Whoever finds no report running
    /// becomes the reporter and loops until nothing is pending; others only leave a note, so
    /// callbacks never overlap and never see a stale order (high, then low, then high ...).
    private func reportWatermarkChanges() {
        let isReporter = state.withLock { state in
            state.watermarkReportPending = true
            guard !state.isReportingWatermark else { return false }
            state.isReportingWatermark = true
            return true
        }
        guard isReporter else { return }
        while true {
            let report = state.withLock { state -> WatermarkReport in
                guard state.watermarkReportPending else {
                    state.isReportingWatermark = false
                    return .done
                }
                state.watermarkReportPending = false
                guard state.brokenErrno == nil,
                      state.isAboveHighWatermark != state.reportedAboveHighWatermark
                else { return .unchanged }
                state.reportedAboveHighWatermark = state.isAboveHighWatermark
                return state.isAboveHighWatermark ? .high : .low
            }
            switch report {
            case .done: return
            case .unchanged: continue
            case .high: onHighWatermark()
            case .low: onLowWatermark()
            }
        }
    }
}
