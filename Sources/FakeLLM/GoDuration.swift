/// Formats durations the way Go's `time.Duration.String()` does, which is what OpenAI's
/// `x-ratelimit-reset-*` headers carry: `"0s"`, `"12ms"`, `"1s"`, `"6m0s"`, `"1m30.5s"`, `"1h0m0s"`.
public enum GoDuration {
    /// Go's text for a duration of `nanoseconds` (negative durations get a leading `-`).
    ///
    /// Below one second the largest fitting unit of `ns`, `µs` or `ms` is used with a fraction;
    /// from one second up it is hours, minutes and seconds with the seconds' fraction, trailing
    /// zeros trimmed, exactly as Go prints it.
    public static func format(nanoseconds: Int64) -> String {
        let negative = nanoseconds < 0
        let magnitude = nanoseconds.magnitude
        var text: String
        if magnitude == 0 {
            return "0s"
        } else if magnitude < 1_000_000_000 {
            if magnitude < 1_000 {
                text = "\(magnitude)ns"
            } else if magnitude < 1_000_000 {
                text = fraction(magnitude, precision: 3) + "µs"
            } else {
                text = fraction(magnitude, precision: 6) + "ms"
            }
        } else {
            let totalSeconds = magnitude / 1_000_000_000
            let seconds = fraction(magnitude % 60_000_000_000, precision: 9) + "s"
            let totalMinutes = totalSeconds / 60
            if totalMinutes == 0 {
                text = seconds
            } else {
                let hours = totalMinutes / 60
                text = hours > 0 ? "\(hours)h\(totalMinutes % 60)m\(seconds)" : "\(totalMinutes)m\(seconds)"
            }
        }
        if negative { text = "-" + text }
        return text
    }

    /// Go's text for `seconds`, first rounded up to whole milliseconds (the precision OpenAI uses,
    /// and rounding up so a client that waits exactly this long finds capacity).
    public static func format(seconds: Double) -> String {
        guard seconds.isFinite, seconds > 0 else { return "0s" }
        let milliseconds = min((seconds * 1000).rounded(.up), 9.0e12)
        return format(nanoseconds: Int64(milliseconds) * 1_000_000)
    }

    /// `value / 10^precision` as decimal text without trailing zeros ("1.5", "12", "0.001").
    private static func fraction(_ value: UInt64, precision: Int) -> String {
        var divisor: UInt64 = 1
        for _ in 0..<precision { divisor *= 10 }
        let whole = value / divisor
        var rest = value % divisor
        guard rest > 0 else { return String(whole) }
        var digits = String(rest)
        digits = String(repeating: "0", count: precision - digits.count) + digits
        while digits.hasSuffix("0") {
            digits.removeLast()
            rest /= 10
        }
        return "\(whole).\(digits)"
    }
}
