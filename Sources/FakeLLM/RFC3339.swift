/// Formats Unix times as RFC 3339 UTC timestamps (`2024-05-01T12:00:03Z`), the form of
/// Anthropic's `anthropic-ratelimit-*-reset` headers. Pure arithmetic, no calendar or locale.
public enum RFC3339 {
    /// The timestamp for `unixSeconds` (seconds since 1970-01-01T00:00:00Z), whole seconds.
    public static func format(unixSeconds: Int64) -> String {
        let days = unixSeconds >= 0 ? unixSeconds / 86_400 : (unixSeconds - 86_399) / 86_400
        let secondOfDay = unixSeconds - days * 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let hour = secondOfDay / 3600
        let minute = (secondOfDay % 3600) / 60
        let second = secondOfDay % 60
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))Z"
    }

    /// The timestamp for a fractional Unix time, rounded up to the next whole second (a reset
    /// time that is never earlier than the real one). Times beyond ±1e15 s are clamped.
    public static func format(unixTime: Double) -> String {
        guard unixTime.isFinite else { return format(unixSeconds: 0) }
        return format(unixSeconds: Int64(min(max(unixTime, -1e15), 1e15).rounded(.up)))
    }

    /// Howard Hinnant's `civil_from_days`: proleptic Gregorian date for days since 1970-01-01.
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
