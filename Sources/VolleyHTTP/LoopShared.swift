import Synchronization
import VolleySystem

/// Where a transfer's result goes.
enum TransferSink: Sendable {
    case buffered(UnsafeContinuation<HTTPResponse, any Error>)
    case stream(AsyncThrowingStream<HTTPStreamEvent, any Error>.Continuation, SSEOptions?)

    /// Ends the caller's wait with `error`. Call exactly once per transfer.
    func fail(_ error: HTTPClientError) {
        switch self {
        case .buffered(let continuation): continuation.resume(throwing: error)
        case .stream(let continuation, _): continuation.finish(throwing: error)
        }
    }
}

/// A request from another thread to the transport loop.
enum LoopCommand: Sendable {
    case start(id: UInt64, request: HTTPRequest, sink: TransferSink)
    case cancel(id: UInt64)
    case shutdown
}

/// A `CURLM *` on its way to the transport thread.
///
/// Safety of `@unchecked Sendable`: `HTTPClient.init` makes the handle, sets its options and
/// hands it to the thread it starts, and never touches it again; from then on the transport
/// thread is its only user (libcurl requires one thread at a time per multi handle).
struct MultiHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
}

/// State shared between callers and the transport thread: the command inbox and counters.
final class LoopShared: Sendable {
    struct Inbox {
        var commands: [LoopCommand] = []
        /// Swift jobs for the transport executor (see `TransportExecutor`).
        var jobs: [UnownedJob] = []
        var nextID: UInt64 = 1
        var closed = false
        /// The loop is waiting (or about to wait) in epoll and must be woken for new work.
        var sleeping = false
    }

    /// Wakes the loop from its selector's wait.
    private let waker: EventSelector.Waker
    private let inbox = Locked(Inbox())
    private let stopped = Locked<(done: Bool, waiters: Waiters<Void>)>((false, Waiters()))

    // Counters written by the loop thread, read by anyone.
    let connectionsOpened = Atomic<Int>(0)
    let transfersOnReusedConnections = Atomic<Int>(0)
    let transfersCompleted = Atomic<Int>(0)
    let transfersRunning = Atomic<Int>(0)
    let transfersWaiting = Atomic<Int>(0)
    let easyHandlesCreated = Atomic<Int>(0)
    let loopWakeups = Atomic<Int>(0)

    /// - Parameter waker: the loop's selector's; the loop closes the selector after the inbox
    ///   is closed (the waker is only ever used under the inbox lock while it is open, so
    ///   never after it is closed).
    init(waker: EventSelector.Waker) {
        self.waker = waker
    }

    /// Enqueues a new transfer and wakes the loop. Returns its id, or nil (and fails the
    /// sink) when the client is shut down.
    func enqueueStart(_ request: HTTPRequest, sink: TransferSink) -> UInt64? {
        let id: UInt64? = inbox.withLock { inbox in
            guard !inbox.closed else { return nil }
            let id = inbox.nextID
            inbox.nextID += 1
            append(.start(id: id, request: request, sink: sink), to: &inbox)
            return id
        }
        if id == nil { sink.fail(HTTPClientError(.shutdown, "the HTTP client was shut down")) }
        return id
    }

    /// Asks the loop to abort transfer `id`; ignored if it already ended.
    func enqueueCancel(_ id: UInt64) {
        inbox.withLock { inbox in
            guard !inbox.closed else { return }
            append(.cancel(id: id), to: &inbox)
        }
    }

    /// Queues a command; wakes the loop only when it sleeps (or is about to): a loop that is
    /// running takes commands again before it waits. (A wakeup per command cost a syscall
    /// each, and most commands come from jobs the loop itself runs.)
    private func append(_ command: LoopCommand, to inbox: inout Inbox) {
        inbox.commands.append(command)
        wakeIfSleeping(&inbox)
    }

    private func wakeIfSleeping(_ inbox: inout Inbox) {
        guard inbox.sleeping else { return }
        inbox.sleeping = false
        waker.wake()
    }

    /// Queues a Swift job for the transport thread. False when the loop has stopped (the
    /// caller runs it elsewhere).
    func enqueueJob(_ job: UnownedJob) -> Bool {
        inbox.withLock { inbox in
            guard !inbox.closed else { return false }
            inbox.jobs.append(job)
            wakeIfSleeping(&inbox)
            return true
        }
    }

    /// Takes every queued job (loop thread).
    func takeJobs(into jobs: inout [UnownedJob]) {
        inbox.withLock { inbox in
            guard !inbox.jobs.isEmpty else { return }
            swap(&jobs, &inbox.jobs)
        }
    }

    /// Called by the loop before it waits: true (and marked sleeping) when there is nothing
    /// queued, so the wait may block; false when it should only poll.
    func prepareToSleep() -> Bool {
        inbox.withLock { inbox in
            guard inbox.commands.isEmpty, inbox.jobs.isEmpty else { return false }
            inbox.sleeping = true
            return true
        }
    }

    /// Called by the loop after its wait.
    func awake() {
        inbox.withLock { $0.sleeping = false }
    }

    /// Closes the inbox and asks the loop to fail everything and exit. Idempotent.
    func enqueueShutdown() {
        inbox.withLock { inbox in
            guard !inbox.closed else { return }
            inbox.closed = true
            inbox.commands.append(.shutdown)
            waker.wake()
            inbox.sleeping = false
        }
    }

    /// Takes the jobs left when the loop stops (it closed the inbox, so no more come).
    func takeRemainingJobs() -> [UnownedJob] {
        inbox.withLock { inbox in
            let jobs = inbox.jobs
            inbox.jobs = []
            return jobs
        }
    }

    /// Takes every queued command (loop thread).
    /// (Swapped with `commands`, which must be empty: the two buffers are reused, where
    /// copying the inbox out made it allocate a new buffer every round.)
    func takeCommands(into commands: inout [LoopCommand]) {
        inbox.withLock { inbox in
            guard !inbox.commands.isEmpty else { return }
            swap(&commands, &inbox.commands)
        }
    }

    /// Called by the loop thread as its last act.
    func markStopped() {
        let waiters = stopped.withLock { state in
            state.done = true
            return state.waiters.takeAll()
        }
        waiters.resume()
    }

    /// Returns once the loop thread has exited.
    func waitUntilStopped() async {
        await stopped.wait(until: { $0.done ? () : nil }, park: { $0.waiters.append($1) })
    }
}
