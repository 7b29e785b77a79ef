#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Synchronization
import VolleyCore
import VolleySystem

/// Where `volley run` talks to a person: stderr, a live line when it is a terminal.
public struct RunConsole: Sendable {
    /// Whether the live progress line (redrawn with `\r`) is used, rather than plain lines.
    public var isTerminal: Bool
    /// Writes text as is (callers add newlines).
    public var write: @Sendable (String) -> Void

    public init(isTerminal: Bool, write: @escaping @Sendable (String) -> Void) {
        self.isTerminal = isTerminal
        self.write = write
    }

    /// The process's stderr.
    public static func standardError() -> RunConsole {
        RunConsole(isTerminal: isatty(STDERR_FILENO) == 1) { writeAll(STDERR_FILENO, $0) }
    }
}

/// The numbers of a run, as progress and the summary show them.
public struct RunCounts: Sendable, Hashable {
    /// Non-blank input lines, once known: from the counting pass beside the run, and in any
    /// case once the run has read the whole input (nil until then).
    public var total: Int?
    /// Items that succeeded in this run.
    public var succeeded = 0
    /// Items that failed in this run (bad lines included; interrupted ones not).
    public var failed = 0
    /// This run's failures by error kind.
    public var failedByKind: [String: Int] = [:]
    /// Lines skipped because an earlier run already has a successful outcome for their key.
    public var skippedSucceeded = 0
    /// Of `skippedSucceeded`: successes journaled without their provider (by an older volley),
    /// counted as done whatever provider this run uses.
    public var skippedUnnamed = 0
    /// Of `skippedSucceeded`: successes from another provider or model, counted as done because
    /// `--accept-other-provider` said so.
    public var acceptedOtherProvider = 0
    /// Lines run again because their only earlier successes came from another provider or model.
    public var rerunOtherProvider = 0
    /// Lines refused because an earlier line of the input has their key.
    public var duplicateKeys = 0
    /// Lines skipped because an earlier run's outcome for their key failed (no `--retry-failed`).
    public var skippedFailed = 0
    /// Items stopped by an interruption: no outcome written, a resumed run does them.
    public var notFinished = 0
    /// Retries made by the engine.
    public var retries = 0
    /// Tokens of this run's successful items.
    public var usage = Usage()
    /// Dollars of this run's successful items whose model has a price, and how many had none.
    public var costUSD = 0.0
    public var costUnknown = 0

    public init() {}

    /// Lines accounted for: this run's outcomes plus the skipped ones.
    public var done: Int { succeeded + failed + skippedSucceeded + skippedFailed }
    /// Every item that does not have a success yet.
    public var unsuccessful: Int { failed + skippedFailed + notFinished }
}

/// The run's counters, updated from the outcome callbacks of concurrent batches.
final class RunCounter: Sendable {
    private let counts = Locked(RunCounts())

    func update(_ body: (inout RunCounts) -> Void) {
        counts.withLock { body(&$0) }
    }

    var snapshot: RunCounts { counts.withLock { $0 } }
}

/// The text of progress lines and of the summary.
enum ProgressText {
    /// `$0.0123`, and how many successes had no price (their cost is not in the sum).
    static func dollars(_ counts: RunCounts) -> String {
        let sum = (counts.costUSD * 10_000).rounded() / 10_000
        let text = "$" + String(format4(sum))
        return counts.costUnknown > 0 ? text + " (+\(counts.costUnknown) unpriced)" : text
    }

    private static func format4(_ value: Double) -> String {
        let cents = Int((value * 10_000).rounded())
        let whole = cents / 10_000, fraction = cents % 10_000
        let digits = String(fraction)
        return "\(whole)." + String(repeating: "0", count: 4 - digits.count) + digits
    }

    /// `1200/5000 done, 3 failed, 412.0/s, tokens 1234 in / 5678 out, ETA 9s`.
    static func line(_ counts: RunCounts, elapsedSeconds: Double) -> String {
        let finished = counts.succeeded + counts.failed
        let rate = elapsedSeconds > 0 ? Double(finished) / elapsedSeconds : 0
        var text = "\(counts.done)/\(counts.total.map(String.init) ?? "?") done, \(counts.failed + counts.skippedFailed) failed"
        text += ", \(format(rate, digits: 1))/s"
        text += ", tokens \(counts.usage.inputTokens) in / \(counts.usage.outputTokens) out, \(ProgressText.dollars(counts))"
        if let total = counts.total, counts.done >= total {
            text += ", ETA 0s"
        } else if let total = counts.total, rate > 0 {
            text += ", ETA \(duration(Double(max(0, total - counts.done)) / rate))"
        } else {
            text += ", ETA ?"
        }
        return text
    }

    /// The end-of-run report, several lines each ending with `\n`.
    static func summary(_ counts: RunCounts, elapsedSeconds: Double, output: String, interrupted: Bool) -> String {
        var lines: [String] = []
        lines.append("volley run: \(interrupted ? "interrupted" : "finished") after \(format(elapsedSeconds, digits: 1)) s")
        var succeeded = "  succeeded: \(counts.succeeded)"
        if counts.skippedSucceeded > 0 { succeeded += " (+\(counts.skippedSucceeded) done by an earlier run, skipped)" }
        lines.append(succeeded)
        var failed = "  failed:    \(counts.failed)"
        if !counts.failedByKind.isEmpty {
            let kinds = counts.failedByKind.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            failed += " (\(kinds.joined(separator: ", ")))"
        }
        lines.append(failed)
        if counts.rerunOtherProvider > 0 {
            lines.append("  run again: \(counts.rerunOtherProvider) (their earlier success came from another provider or model;"
                + " --accept-other-provider counts such lines as done)")
        }
        if counts.acceptedOtherProvider > 0 {
            lines.append("  accepted:  \(counts.acceptedOtherProvider) earlier successes from another provider or model"
                + " (--accept-other-provider), skipped")
        }
        if counts.skippedUnnamed > 0 {
            lines.append("  unnamed:   \(counts.skippedUnnamed) earlier successes name no provider (an older volley wrote them);"
                + " counted as done")
        }
        if counts.duplicateKeys > 0 {
            lines.append("  duplicate keys: \(counts.duplicateKeys) (lines that repeat an earlier line's key: not run, counted as failed)")
        }
        if counts.skippedFailed > 0 {
            lines.append("  still failed from an earlier run: \(counts.skippedFailed) (not run again; --retry-failed runs them)")
        }
        if counts.notFinished > 0 {
            lines.append("  not finished: \(counts.notFinished) (no outcome written; rerun to do them)")
        }
        lines.append("  retries:   \(counts.retries)")
        lines.append("  tokens:    \(counts.usage.inputTokens) in / \(counts.usage.outputTokens) out")
        lines.append("  cost:      \(dollars(counts))")
        lines.append("  output:    \(output == "-" ? "stdout" : output)")
        return lines.joined(separator: "\n") + "\n"
    }

    static func format(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "?" }
        return formatFixed(value, digits: digits)
    }

    /// `45s`, `7m02s`, `3h05m`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds < 1e9 else { return "?" }
        let total = Int(seconds.rounded(.up))
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(pad(total % 60))s" }
        return "\(total / 3600)h\(pad(total / 60 % 60))m"
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}

/// Shows progress while a run goes: on a terminal, one line redrawn in place about 10 times a
/// second; otherwise a plain line every `interval` seconds.
final class ProgressReporter: Sendable {
    private let counter: RunCounter
    private let console: RunConsole
    private let interval: Duration
    private let start: ContinuousClock.Instant
    private let drawn = Atomic<Bool>(false)

    init(counter: RunCounter, console: RunConsole, plainIntervalSeconds: Double, start: ContinuousClock.Instant) {
        self.counter = counter
        self.console = console
        self.interval = console.isTerminal ? .milliseconds(100) : .milliseconds(Int64(plainIntervalSeconds * 1000))
        self.start = start
    }

    /// Draws until cancelled.
    func run() async {
        while true {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            draw()
        }
    }

    func draw() {
        let text = ProgressText.line(counter.snapshot, elapsedSeconds: elapsedSeconds)
        if console.isTerminal {
            drawn.store(true, ordering: .relaxed)
            console.write("\r\u{1B}[2K" + text)
        } else {
            console.write("volley run: " + text + "\n")
        }
    }

    /// The last progress (a plain line, or the live line cleared) before the summary.
    func finish() {
        if console.isTerminal {
            if drawn.load(ordering: .relaxed) { console.write("\r\u{1B}[2K") }
        } else {
            draw()
        }
    }

    var elapsedSeconds: Double {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
