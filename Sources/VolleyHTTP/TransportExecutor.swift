/// A task executor that runs Swift jobs on the HTTP client's transport thread, between its
/// rounds of socket work.
///
/// Work that mostly waits for HTTP (prepare a request, await the response, read it) costs a
/// thread hop each way on the global executor: the transport thread resumes the waiting task,
/// a pool thread is woken to run it, and the transport thread is woken again for the next
/// request. Under `withTaskExecutorPreference(client.executor)` those tasks run where their
/// responses arrive instead, the way an event loop runs its handlers: no hops, no wakeups.
/// Only short, non-blocking jobs belong here; a job that blocks stalls every transfer.
///
/// After `shutdown()`, jobs go to the global concurrent executor.
public final class TransportExecutor: TaskExecutor {
    private let shared: LoopShared

    init(shared: LoopShared) {
        self.shared = shared
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        if !shared.enqueueJob(unowned) {
            globalConcurrentExecutor.enqueue(unowned)
        }
    }
}
