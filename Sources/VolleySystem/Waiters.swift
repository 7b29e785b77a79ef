/// Tasks suspended until a condition that a lock guards comes true: the one waiter list that
/// the writer's `flush`, the request registry's idle and quiet waits, the transport's stop and
/// `volley run`'s slot pool share.
///
/// A `Waiters` lives inside the state a ``Locked`` protects. The condition is checked and the
/// waiter parked under that lock (``Locked/wait(until:park:)``), and whoever makes the condition
/// true takes the waiters under the same lock and resumes them after it (``Waiters/takeAll()``
/// then ``Waiters/Ready/resume(returning:)``), so a wake-up is never lost between the check and
/// the park, and no continuation is resumed with the lock held.
public struct Waiters<Value: Sendable>: Sendable {
    private var continuations: [CheckedContinuation<Value, Never>] = []

    public init() {}

    public var isEmpty: Bool { continuations.isEmpty }
    public var count: Int { continuations.count }

    public mutating func append(_ continuation: CheckedContinuation<Value, Never>) {
        continuations.append(continuation)
    }

    /// Takes every waiter, to be resumed once the lock is released.
    public mutating func takeAll() -> Ready {
        defer { continuations = [] }
        return Ready(continuations: continuations)
    }

    /// Waiters taken off a list, not yet resumed.
    public struct Ready: Sendable {
        fileprivate var continuations: [CheckedContinuation<Value, Never>]

        public static var none: Ready { Ready(continuations: []) }

        public var isEmpty: Bool { continuations.isEmpty }

        public func resume(returning value: Value) {
            for continuation in continuations { continuation.resume(returning: value) }
        }

        /// Both lists' waiters, to be resumed with one value.
        public func merged(with other: Ready) -> Ready {
            Ready(continuations: continuations + other.continuations)
        }
    }
}

extension Waiters.Ready where Value == Void {
    public func resume() { resume(returning: ()) }
}

extension Locked where Value: ~Copyable {
    /// Returns `ready`'s value at once if it has one, else parks the calling task with `park`
    /// (both under the lock) until whoever changes the state resumes it.
    ///
    /// - Parameters:
    ///   - ready: checked under the lock; a non-nil value is returned without waiting.
    ///   - park: stores the continuation (usually in a ``Waiters`` inside the state).
    public func wait<Result: Sendable>(
        until ready: (inout Value) -> Result?,
        park: (inout Value, CheckedContinuation<Result, Never>) -> Void
    ) async -> Result {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result, Never>) in
            let value: Result? = withLock { state in
                if let value = ready(&state) { return value }
                park(&state, continuation)
                return nil
            }
            if let value { continuation.resume(returning: value) }
        }
    }
}
