import VolleyHTTP

/// Reads how long a server asks us to wait before retrying.
public enum RetryAfter {
    /// `retry-after-ms` (milliseconds), else `retry-after` as delta seconds or an HTTP date
    /// relative to `nowUnixSeconds`. Nil when absent, unparseable, or not in the future.
    public static func seconds(from headers: HTTPHeaders, nowUnixSeconds: Double) -> Double? {
        if let ms = headers["retry-after-ms"].flatMap({ Double($0.trimmingCharacters()) }), ms.isFinite, ms > 0 {
            return ms / 1000
        }
        guard let value = headers["retry-after"]?.trimmingCharacters() else { return nil }
        if let seconds = Double(value) {
            return seconds.isFinite && seconds > 0 ? seconds : nil
        }
        if let date = HTTPDate.parse(value) {
            let delta = date - nowUnixSeconds
            return delta > 0 ? delta : nil
        }
        return nil
    }
}

/// HTTP dates (RFC 9110 IMF-fixdate, e.g. `Wed, 21 Oct 2015 07:28:00 GMT`).
public enum HTTPDate {
    /// Seconds since 1970 for an IMF-fixdate, or nil.
    public static func parse(_ text: String) -> Double? {
        // "Wed, 21 Oct 2015 07:28:00 GMT". The year has four digits (RFC 9110): a longer one
        // would overflow the day count, and no server means it.
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", parts[0].hasSuffix(","),
              let day = number(parts[1], digits: 1...2), let year = number(parts[3], digits: 4...4),
              let month = months.firstIndex(of: String(parts[2])) else { return nil }
        let clock = parts[4].split(separator: ":")
        guard clock.count == 3, let hour = number(clock[0], digits: 2...2), let minute = number(clock[1], digits: 2...2),
              let second = number(clock[2], digits: 2...2),
              (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        let days = daysFromCivil(year: year, month: month + 1, day: day)
        return Double(days * 86_400 + hour * 3_600 + minute * 60 + second)
    }

    /// `text` as a decimal number of `digits` ASCII digits (no sign), or nil.
    private static func number(_ text: Substring, digits: ClosedRange<Int>) -> Int? {
        guard digits.contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int(text)
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

extension String {
    func trimmingCharacters() -> String {
        var slice = self[...]
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}
