import VolleySystem

/// A value set once (from any thread) and awaited by any number of tasks, each wait bounded.
public final class Latch<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [UInt64: CheckedContinuation<Value, any Error>] = [:]
        var expired: Set<UInt64> = []
        var nextID: UInt64 = 0
    }

    private enum Registration { case ready(Value), waiting, expired }

    private let state = Locked(State())
    /// What is awaited, for the timeout message.
    public let name: String

    public init(name: String) {
        self.name = name
    }

    /// Sets the value and wakes every waiter; later calls do nothing.
    public func set(_ value: Value) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value, any Error>] in
            guard state.value == nil else { return [] }
            state.value = value
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    /// The value, if set.
    public var value: Value? { state.withLock { $0.value } }

    /// Waits for the value. - Throws: ``HarnessError`` after `timeout` seconds.
    @discardableResult
    public func wait(timeout: Double = defaultTimeoutSeconds) async throws -> Value {
        let id = state.withLock { state -> UInt64 in
            defer { state.nextID += 1 }
            return state.nextID
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: .seconds(timeout))
            guard !Task.isCancelled else { return }
            self?.expire(id, timeout: timeout)
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
            let registration = state.withLock { state -> Registration in
                if let value = state.value { return .ready(value) }
                if state.expired.remove(id) != nil { return .expired }
                state.waiters[id] = continuation
                return .waiting
            }
            switch registration {
            case .ready(let value): continuation.resume(returning: value)
            case .waiting: break
            case .expired: continuation.resume(throwing: HarnessError("timed out after \(timeout) s waiting for \(name)"))
            }
        }
    }

    private func expire(_ id: UInt64, timeout: Double) {
        let waiter = state.withLock { state -> CheckedContinuation<Value, any Error>? in
            guard let waiter = state.waiters.removeValue(forKey: id) else {
                state.expired.insert(id)
                return nil
            }
            return waiter
        }
        waiter?.resume(throwing: HarnessError("timed out after \(timeout) s waiting for \(name)"))
    }
}
