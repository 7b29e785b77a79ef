import Histogram
import VolleySystem

/// Process-wide counters for `stats`.
final class EngineMetrics: Sendable {
    private struct State {
        var completed = 0
        var failed = 0
        var cancelled = 0
        var retries = 0
        var rateLimited = 0
        var batchesActive = 0
        /// Item latency in microseconds, up to an hour, 3 significant digits.
        var latency = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
        var usageByModel: [String: Usage] = [:]
        var costByModel: [String: Double] = [:]
        var costUnknown = 0
    }

    private let state = Locked(State())

    func batchStarted() { state.withLock { $0.batchesActive += 1 } }
    func batchEnded() { state.withLock { $0.batchesActive -= 1 } }
    func retried() { state.withLock { $0.retries += 1 } }
    func rateLimited() { state.withLock { $0.rateLimited += 1 } }

    func record(_ outcome: Outcome) {
        state.withLock { state in
            switch outcome.result {
            case .success(let value):
                state.completed += 1
                if let usage = value.usage { state.usageByModel[value.model ?? "unknown", default: Usage()] += usage }
                if let cost = outcome.costUSD { state.costByModel[value.model ?? "unknown", default: 0] += cost } else { state.costUnknown += 1 }
            case .failure(let error):
                if error.kind == .cancelled { state.cancelled += 1 } else { state.failed += 1 }
            }
            if let latencyMs = outcome.latencyMs, latencyMs >= 0 {
                _ = state.latency.record(UInt64(min(latencyMs * 1000, 3_600_000_000)))
            }
        }
    }

    /// The counters now.
    func counters() -> EngineCounters {
        state.withLock { state in
            func ms(_ percentile: Double) -> Double? {
                guard state.latency.totalCount > 0 else { return nil }
                return Double(state.latency.valueAtPercentile(percentile)) / 1000
            }
            return EngineCounters(
                batchesActive: state.batchesActive, completed: state.completed, failed: state.failed,
                cancelled: state.cancelled, retries: state.retries, rateLimited: state.rateLimited,
                latencyP50Ms: ms(50), latencyP95Ms: ms(95), latencyP99Ms: ms(99), usageByModel: state.usageByModel,
                costByModel: state.costByModel, costUnknown: state.costUnknown)
        }
    }
}
