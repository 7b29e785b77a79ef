import VolleyHTTP

/// Reads providers' rate-limit headers into a `RateLimitState`.
public enum RateLimitHeaders {
    /// OpenAI: `x-ratelimit-remaining-requests|tokens` and `x-ratelimit-reset-requests|tokens`
    /// (Go durations such as `6m0s`, `1.5s`, `12ms`). Anthropic:
    /// `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{remaining,reset}`
    /// (resets as RFC 3339 times, relative to `nowUnixSeconds`).
    public static func parse(_ headers: HTTPHeaders, nowUnixSeconds: Double) -> RateLimitState {
        var state = RateLimitState()
        func int(_ name: String) -> Int? { headers[name].flatMap { Int($0.trimmingCharacters()) } }
        state.requestsLimit = int("x-ratelimit-limit-requests") ?? int("anthropic-ratelimit-requests-limit")
        state.tokensLimit = int("x-ratelimit-limit-tokens") ?? int("anthropic-ratelimit-tokens-limit")
        state.inputTokensLimit = int("anthropic-ratelimit-input-tokens-limit")
        state.outputTokensLimit = int("anthropic-ratelimit-output-tokens-limit")
        if let value = headers["x-ratelimit-remaining-requests"] { state.requestsRemaining = Int(value.trimmingCharacters()) }
        if let value = headers["x-ratelimit-reset-requests"] { state.requestsResetSeconds = GoDuration.seconds(value) }
        if let value = headers["x-ratelimit-remaining-tokens"] { state.tokensRemaining = Int(value.trimmingCharacters()) }
        if let value = headers["x-ratelimit-reset-tokens"] { state.tokensResetSeconds = GoDuration.seconds(value) }

        func until(_ name: String) -> Double? {
            headers[name].flatMap(RFC3339.parse).map { max(0, $0 - nowUnixSeconds) }
        }
        if let value = headers["anthropic-ratelimit-requests-remaining"] {
            state.requestsRemaining = Int(value.trimmingCharacters())
            state.requestsResetSeconds = until("anthropic-ratelimit-requests-reset")
        }
        // Anthropic reports combined tokens and its separate input/output budgets.
        func remaining(_ kind: String) -> Int? {
            headers["anthropic-ratelimit-\(kind)-remaining"].flatMap { Int($0.trimmingCharacters()) }
        }
        if let tokens = remaining("tokens") {
            state.tokensRemaining = tokens
            state.tokensResetSeconds = until("anthropic-ratelimit-tokens-reset")
        }
        state.inputTokensRemaining = remaining("input-tokens")
        state.outputTokensRemaining = remaining("output-tokens")
        return state
    }
}

/// Go's `time.Duration` text (`1h2m3.5s`, `6m0s`, `12ms`, `250us`, `0s`), as OpenAI sends resets.
public enum GoDuration {
    public static func seconds(_ text: String) -> Double? {
        var rest = Substring(text.trimmingCharacters())
        guard !rest.isEmpty else { return nil }
        if rest == "0" { return 0 }
        var total = 0.0
        while !rest.isEmpty {
            let numberEnd = rest.firstIndex { !($0.isNumber || $0 == ".") } ?? rest.endIndex
            guard numberEnd != rest.startIndex, let number = Double(rest[..<numberEnd]) else { return nil }
            rest = rest[numberEnd...]
            let unitEnd = rest.firstIndex { $0.isNumber || $0 == "." } ?? rest.endIndex
            let unit = rest[..<unitEnd]
            rest = rest[unitEnd...]
            switch unit {
            case "h": total += number * 3600
            case "m": total += number * 60
            case "s": total += number
            case "ms": total += number / 1_000
            case "us", "µs", "μs": total += number / 1_000_000
            case "ns": total += number / 1_000_000_000
            default: return nil
            }
        }
        return total
    }
}

/// RFC 3339 timestamps (`2024-05-01T12:00:30Z`, `2024-05-01T12:00:30.25+02:00`).
public enum RFC3339 {
    /// Seconds since 1970, or nil.
    public static func parse(_ text: String) -> Double? {
        let bytes = Array(text.trimmingCharacters().utf8)
        guard bytes.count >= 20 else { return nil }
        func int(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[range] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = int(0..<4), bytes[4] == UInt8(ascii: "-"), let month = int(5..<7), bytes[7] == UInt8(ascii: "-"),
              let day = int(8..<10), bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t") || bytes[10] == UInt8(ascii: " "),
              let hour = int(11..<13), bytes[13] == UInt8(ascii: ":"), let minute = int(14..<16), bytes[16] == UInt8(ascii: ":"),
              let second = int(17..<19), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, (48...57).contains(bytes[index]) {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == bytes.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == bytes.count, let h = int(index + 1..<index + 3), bytes[index + 3] == UInt8(ascii: ":"),
                  let m = int(index + 4..<index + 6) else { return nil }
            offset = (h * 3600 + m * 60) * (bytes[index] == UInt8(ascii: "+") ? 1 : -1)
        default:
            return nil
        }
        let days = HTTPDate.daysFromCivil(year: year, month: month, day: day)
        return Double(days * 86_400 + hour * 3_600 + minute * 60 + second - offset) + fraction
    }
}
