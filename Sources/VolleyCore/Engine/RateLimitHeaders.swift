import VolleyHTTP

/// Reads providers' rate-limit headers into a `RateLimitState`.
public enum RateLimitHeaders {
    /// OpenAI: `x-ratelimit-remaining-requests|tokens` and `x-ratelimit-reset-requests|tokens`
    /// (Go durations such as `6m0s`, `1.5s`, `12ms`). Anthropic:
    /// `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{remaining,reset}`
    /// (resets as RFC 3339 times, relative to `nowUnixSeconds`).
    public static func parse(_ headers: HTTPHeaders, nowUnixSeconds: Double) -> RateLimitState {
        // One pass over the fields (this runs for every response): pick out the rate-limit
        // ones, first occurrence wins, as a lookup by name would.
        var seen: [Name: String] = [:]
        for field in headers {
            let utf8 = field.name.utf8
            guard utf8.count > 12, let first = utf8.first, first | 0x20 == UInt8(ascii: "x") || first | 0x20 == UInt8(ascii: "a"),
                  let name = Name(rawValue: lowercased(field.name)), seen[name] == nil else { continue }
            seen[name] = field.value
        }
        guard !seen.isEmpty else { return RateLimitState() }
        var state = RateLimitState()
        func int(_ name: Name) -> Int? { seen[name].flatMap { Int($0.trimmingCharacters()) } }
        func until(_ name: Name) -> Double? {
            seen[name].flatMap(RFC3339.parse).map { max(0, $0 - nowUnixSeconds) }
        }
        state.requestsLimit = int(.openAIRequestsLimit) ?? int(.anthropicRequestsLimit)
        state.tokensLimit = int(.openAITokensLimit) ?? int(.anthropicTokensLimit)
        state.inputTokensLimit = int(.anthropicInputTokensLimit)
        state.outputTokensLimit = int(.anthropicOutputTokensLimit)
        if let value = seen[.openAIRequestsRemaining] { state.requestsRemaining = Int(value.trimmingCharacters()) }
        if let value = seen[.openAIRequestsReset] { state.requestsResetSeconds = GoDuration.seconds(value) }
        if let value = seen[.openAITokensRemaining] { state.tokensRemaining = Int(value.trimmingCharacters()) }
        if let value = seen[.openAITokensReset] { state.tokensResetSeconds = GoDuration.seconds(value) }
        if let value = seen[.anthropicRequestsRemaining] {
            state.requestsRemaining = Int(value.trimmingCharacters())
            state.requestsResetSeconds = until(.anthropicRequestsReset)
        }
        // Anthropic reports combined tokens and its separate input/output budgets.
        if let tokens = int(.anthropicTokensRemaining) {
            state.tokensRemaining = tokens
            state.tokensResetSeconds = until(.anthropicTokensReset)
        }
        state.inputTokensRemaining = int(.anthropicInputTokensRemaining)
        state.outputTokensRemaining = int(.anthropicOutputTokensRemaining)
        return state
    }

    /// The header names read (lowercase).
    private enum Name: String {
        case openAIRequestsLimit = "x-ratelimit-limit-requests"
        case openAITokensLimit = "x-ratelimit-limit-tokens"
        case openAIRequestsRemaining = "x-ratelimit-remaining-requests"
        case openAIRequestsReset = "x-ratelimit-reset-requests"
        case openAITokensRemaining = "x-ratelimit-remaining-tokens"
        case openAITokensReset = "x-ratelimit-reset-tokens"
        case anthropicRequestsLimit = "anthropic-ratelimit-requests-limit"
        case anthropicTokensLimit = "anthropic-ratelimit-tokens-limit"
        case anthropicInputTokensLimit = "anthropic-ratelimit-input-tokens-limit"
        case anthropicOutputTokensLimit = "anthropic-ratelimit-output-tokens-limit"
        case anthropicRequestsRemaining = "anthropic-ratelimit-requests-remaining"
        case anthropicRequestsReset = "anthropic-ratelimit-requests-reset"
        case anthropicTokensRemaining = "anthropic-ratelimit-tokens-remaining"
        case anthropicTokensReset = "anthropic-ratelimit-tokens-reset"
        case anthropicInputTokensRemaining = "anthropic-ratelimit-input-tokens-remaining"
        case anthropicOutputTokensRemaining = "anthropic-ratelimit-output-tokens-remaining"
    }

    /// `name` in ASCII lowercase; response names already are (the transport lowercases them).
    private static func lowercased(_ name: String) -> String {
        name.utf8.contains(where: { $0 >= 65 && $0 <= 90 }) ? name.lowercased() : name
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
