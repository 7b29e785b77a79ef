import VolleyCore
import VolleySystem
import VolleyTestSupport

/// Every line the sidecar wrote to stdout, in order, each parsed once; tests wait on it.
///
/// Lines arrive from the harness's reader thread (``append(_:)``); tests call ``waitFor`` to
/// suspend until a line matching a predicate exists, resumed by the arrival itself (a
/// continuation), never by polling. Every wait is bounded: a hang fails the test instead of
/// blocking the run.
final class OutputLog: Sendable {
    /// One stdout line: its raw bytes (without `\n`) and its parsed JSON (`nil` if unparseable).
    struct Line: Sendable {
        let raw: [UInt8]
        let value: JSONValue?

        var text: String { String(decoding: raw, as: UTF8.self) }
    }

    private struct Waiter {
        /// Called under the lock: must not touch the log.
        let match: @Sendable (JSONValue) -> Bool
        let continuation: CheckedContinuation<Int, any Error>
    }

    private struct State {
        var lines: [Line] = []
        var isClosed = false
        var waiters: [UInt64: Waiter] = [:]
        var expired: Set<UInt64> = []
        var nextWaiterID: UInt64 = 0
    }

    private let state = Locked(State())
    /// What the log is of, for failure messages.
    let name: String

    init(name: String) {
        self.name = name
    }

    // MARK: - Feeding (reader thread)

    func append(_ raw: [UInt8]) {
        let value = try? JSONParser.parse(raw)
        let ready = state.withLock { state -> [(CheckedContinuation<Int, any Error>, Int)] in
            let index = state.lines.count
            state.lines.append(Line(raw: raw, value: value))
            var ready: [(CheckedContinuation<Int, any Error>, Int)] = []
            for (id, waiter) in state.waiters {
                if let value, waiter.match(value) {
                    ready.append((waiter.continuation, index))
                    state.waiters[id] = nil
                }
            }
            return ready
        }
        for (continuation, index) in ready { continuation.resume(returning: index) }
    }

    /// The stream ended: waiters that can no longer be satisfied fail.
    func close() {
        let pending = state.withLock { state -> [CheckedContinuation<Int, any Error>] in
            state.isClosed = true
            defer { state.waiters = [:] }
            return state.waiters.values.map(\.continuation)
        }
        for continuation in pending {
            continuation.resume(throwing: HarnessError("\(name) ended before the awaited line arrived; \(summary())"))
        }
    }

    // MARK: - Reading (tests)

    var lines: [Line] { state.withLock { $0.lines } }
    var count: Int { state.withLock { $0.lines.count } }
    var isClosed: Bool { state.withLock { $0.isClosed } }

    /// Parsed values of every line (unparseable lines are reported by ``unparseableLines``).
    var values: [JSONValue] { lines.compactMap(\.value) }

    /// Lines that were not valid JSON: stdout must carry protocol messages only.
    var unparseableLines: [String] { lines.filter { $0.value == nil }.map(\.text) }

    /// Waits for the first line at index `from` or later that `match`es; returns its index.
    ///
    /// - Throws: ``HarnessError`` after `timeout` seconds, or when stdout ends first.
    @discardableResult
    func waitFor(
        from start: Int = 0,
        timeout: Double = defaultTimeoutSeconds,
        _ what: @autoclosure () -> String,
        where match: @escaping @Sendable (JSONValue) -> Bool
    ) async throws -> Int {
        let description = what()
        let id = state.withLock { state -> UInt64 in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: .seconds(timeout))
            guard !Task.isCancelled else { return }
            self?.expire(id, description: description, timeout: timeout)
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
            enum Registration { case found(Int), waiting, expired, closed }
            let registration = state.withLock { state -> Registration in
                if state.expired.remove(id) != nil { return .expired }
                if start < state.lines.count {
                    for index in start..<state.lines.count {
                        if let value = state.lines[index].value, match(value) { return .found(index) }
                    }
                }
                if state.isClosed { return .closed }
                state.waiters[id] = Waiter(match: match, continuation: continuation)
                return .waiting
            }
            switch registration {
            case .found(let index): continuation.resume(returning: index)
            case .waiting: break
            case .expired:
                continuation.resume(throwing: HarnessError("timed out after \(timeout) s waiting for \(description); \(summary())"))
            case .closed:
                continuation.resume(throwing: HarnessError("\(name) ended without \(description); \(summary())"))
            }
        }
    }

    private func expire(_ id: UInt64, description: String, timeout: Double) {
        let waiter = state.withLock { state -> Waiter? in
            guard let waiter = state.waiters.removeValue(forKey: id) else {
                state.expired.insert(id)
                return nil
            }
            return waiter
        }
        waiter?.continuation.resume(throwing: HarnessError("timed out after \(timeout) s waiting for \(description); \(summary())"))
    }

    /// The line count and the last few lines, for failure messages.
    func summary(lastLines: Int = 5) -> String {
        let lines = self.lines
        let tail = lines.suffix(lastLines).map { line -> String in
            let text = line.text
            return text.count > 300 ? String(text.prefix(300)) + "…" : text
        }
        return "\(name) has \(lines.count) lines; last: \(tail)"
    }
}
