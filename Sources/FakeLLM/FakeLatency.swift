import Foundation

/// How long the server waits before answering, in milliseconds.
///
/// Random variants draw from the server's seeded generator, so a run repeats for the same
/// `FakeLLMConfiguration.seed`. A per-request `latency_ms` script overrides this.
public enum FakeLatency: Sendable, Equatable {
    /// Always the same delay.
    case fixed(milliseconds: Double)
    /// A delay drawn uniformly from `min...max` milliseconds.
    case uniform(min: Double, max: Double)
    /// A delay drawn from a normal distribution, clamped to be at least 0.
    case normal(mean: Double, stddev: Double)

    /// One delay in milliseconds (never negative), drawing from `generator` when random.
    func sampleMilliseconds(using generator: inout SeededGenerator) -> Double {
        let value: Double
        switch self {
        case .fixed(let milliseconds):
            value = milliseconds
        case .uniform(let low, let high):
            let (a, b) = low <= high ? (low, high) : (high, low)
            value = a + (b - a) * generator.nextUnit()
        case .normal(let mean, let stddev):
            // Box-Muller; 1 - u keeps the logarithm's argument in (0, 1].
            let u1 = 1 - generator.nextUnit()
            let u2 = generator.nextUnit()
            let standard = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
            value = mean + stddev * standard
        }
        return value.isFinite ? min(max(0, value), FakeScript.maxDelayMilliseconds) : 0
    }
}
