/// An nginx access log written with `log_format '$status $msec $request_time'`: one line per
/// finished request, in the order nginx finished them.
///
/// Times are nginx's cached clock, in seconds since 1970 with millisecond resolution: `end` is
/// `$msec` (when the request was logged, right after its last byte was sent) and `start` is
/// `$msec - $request_time` (when its first byte was read). Both come from one clock, so two
/// requests nginx handled in the same event-loop turn get exactly equal times.
public struct NginxAccessLog: Sendable, Hashable {
    /// One request: its status and [start, end] in seconds since 1970.
    public struct Entry: Sendable, Hashable {
        public var status: Int
        public var start: Double
        public var end: Double

        public init(status: Int, start: Double, end: Double) {
            self.status = status
            self.start = start
            self.end = end
        }
    }

    /// A line that is not `STATUS SECONDS.MILLIS SECONDS.MILLIS`.
    public struct ParseError: Error, CustomStringConvertible {
        public var line: String
        public var description: String { "not an access-log line of '$status $msec $request_time': \(line)" }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    /// Parses the log's text (blank lines are skipped).
    /// - Throws: `ParseError` for the first line that does not parse.
    public init(parsing text: String) throws {
        entries = try text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            if fields.isEmpty { return nil }
            guard fields.count == 3, let status = Int(fields[0]),
                  let endMs = Self.milliseconds(fields[1]), let durationMs = Self.milliseconds(fields[2])
            else { throw ParseError(line: String(line)) }
            // Integer milliseconds first, so that equal clock readings give equal Doubles.
            return Entry(status: status, start: Double(endMs - durationMs) / 1000, end: Double(endMs) / 1000)
        }
    }

    /// How many requests ended with each status.
    public var countsByStatus: [Int: Int] {
        entries.reduce(into: [:]) { $0[$1.status, default: 0] += 1 }
    }

    /// How many requests ended with `status`.
    public func count(status: Int) -> Int {
        entries.count { $0.status == status }
    }

    /// Every request logged, whatever its status.
    public var requests: Int { entries.count }
    /// Requests answered 200.
    public var accepted: Int { count(status: 200) }
    /// Requests answered 429.
    public var rateLimited: Int { count(status: 429) }

    /// Seconds from the first request's start to the last one's, over all statuses: how
    /// spread out the arrivals were (0 for fewer than two requests).
    public var arrivalSpreadSeconds: Double {
        guard let first = entries.map(\.start).min(), let last = entries.map(\.start).max() else { return 0 }
        return last - first
    }

    /// 200s per second: their count divided by the time from the first 200's start to the
    /// last 200's start. 0 with fewer than two 200s; infinity when they all started in the
    /// same millisecond.
    public func acceptedPerSecond() -> Double {
        let starts = entries.filter { $0.status == 200 }.map(\.start)
        guard starts.count >= 2, let first = starts.min(), let last = starts.max() else { return 0 }
        return Double(starts.count) / (last - first)
    }

    /// The most 200 requests that were in progress at one moment. Intervals are half-open,
    /// [start, end), at least one millisecond long: a request that starts in the millisecond
    /// another ends does not overlap it, so that a client running K at a time back to back
    /// measures K, not K + 1. With nginx's millisecond clock this means something only for
    /// requests that last well over a millisecond (give the server a latency): requests it
    /// handled within one millisecond all count as overlapping.
    public func peakConcurrentAccepted() -> Int {
        // In integer milliseconds; at equal times, ends (-1) sort before starts (+1).
        let events = entries.filter { $0.status == 200 }
            .flatMap { entry -> [(Int, Int)] in
                let start = Int((entry.start * 1000).rounded())
                let end = max(Int((entry.end * 1000).rounded()), start + 1)
                return [(start, 1), (end, -1)]
            }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        var running = 0
        var peak = 0
        for (_, delta) in events {
            running += delta
            peak = max(peak, running)
        }
        return peak
    }

    /// "1796355209.302" as 1796355209302; nginx always prints three decimals.
    private static func milliseconds(_ field: Substring) -> Int? {
        let parts = field.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].count == 3, let seconds = Int(parts[0]), let millis = Int(parts[1]) else { return nil }
        return seconds * 1000 + millis
    }
}
