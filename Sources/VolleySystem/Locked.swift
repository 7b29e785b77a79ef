import CSanitizerHooks
import Synchronization

/// A value behind a lock: `Synchronization.Mutex` that ThreadSanitizer can see.
///
/// Every lock in Volley's sources is a `Locked` (scripts/test refuses a bare `Mutex` outside
/// this file). On Linux, `Mutex` takes its lock with futex system calls that ThreadSanitizer
/// does not intercept, so under `scripts/test --sanitize thread` each access a `Mutex` guards
/// was reported as a race, and a real race could not be told from them. `withLock` here tells
/// the sanitizer of the lock's acquire and release through the hooks in CSanitizerHooks, which
/// do nothing in a build without it (two empty C calls per lock).
public struct Locked<Value: ~Copyable>: ~Copyable {
    @usableFromInline
    let mutex: Mutex<Value>

    public init(_ initialValue: consuming sending Value) {
        mutex = Mutex(initialValue)
    }

    /// Runs `body` with the lock held and the state to read or change.
    @inlinable
    public borrowing func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        // The sanitizer needs an address that names this lock and is read without touching
        // the state: under -sanitize=thread every inout access to the state is itself reported
        // (as a "Swift access race"), so it must come after the acquire. The mutex is a `let`,
        // kept in place (it cannot be copied), so its address is the same for every holder. It
        // only names the lock and is never dereferenced; were it ever a temporary, the cost
        // would be a false report, not unsafety.
        let identity = withUnsafePointer(to: mutex) { UnsafeMutableRawPointer(mutating: $0) }
        return try mutex.withLock { (state: inout sending Value) throws(E) -> sending Result in
            volley_tsan_acquire(identity)
            defer { volley_tsan_release(identity) }
            return try body(&state)
        }
    }
}

// Sendable as Mutex is: values enter and leave it only as `sending`, and only under its lock.
extension Locked: Sendable where Value: ~Copyable {}
