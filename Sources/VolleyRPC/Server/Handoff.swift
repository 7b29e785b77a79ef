import VolleySystem

/// One value passed from one task or thread to another, and taken once: a request's params
/// handed to the task that runs it (so the task, not its closure, owns them and can let them go),
/// or a `call`'s one outcome handed back from the engine.
final class Handoff<Value: Sendable>: Sendable {
    private let value: Locked<Value?>

    init(_ value: Value? = nil) {
        self.value = Locked(value)
    }

    /// Leaves `value` to be taken (replacing one not taken yet).
    func put(_ value: Value) {
        self.value.withLock { $0 = value }
    }

    /// The value, or nil when none was put or it was already taken.
    func take() -> Value? {
        value.withLock { value in
            defer { value = nil }
            return value
        }
    }
}
