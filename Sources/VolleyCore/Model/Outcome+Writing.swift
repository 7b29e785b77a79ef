extension Outcome {
    /// Appends the outcome's members (`"index":..,"key":..,...`, no braces) as compact JSON,
    /// byte for byte what writing `json` gives, without building the tree: a 100,000-item
    /// `gather` reply is written straight into one buffer.
    public func writeMembers(into bytes: inout [UInt8]) {
        Self.append(#""index":"#, &bytes)
        Self.appendInt(index, &bytes)
        if let key {
            Self.append(#","key":"#, &bytes)
            JSONWriter.writeString(key, into: &bytes)
        }
        if let provider {
            Self.append(#","provider":"#, &bytes)
            JSONWriter.writeString(provider, into: &bytes)
        }
        switch result {
        case .success(let value):
            Self.append(#","ok":true,"value":"#, &bytes)
            value.writeJSON(into: &bytes)
        case .failure(let error):
            Self.append(#","ok":false,"error":"#, &bytes)
            error.json.write(into: &bytes)
        }
        Self.append(#","attempts":"#, &bytes)
        Self.appendInt(attempts, &bytes)
        Self.appendTenths(#","latency_ms":"#, latencyMs, &bytes)
        Self.appendTenths(#","queued_ms":"#, queuedMs, &bytes)
        Self.appendTenths(#","ttft_ms":"#, ttftMs, &bytes)
        if case .success = result {
            Self.append(#","cost_usd":"#, &bytes)
            if let costUSD, let number = JSONNumber(Self.dollars(costUSD)) {
                bytes.append(contentsOf: number.text.utf8)
            } else {
                Self.append("null", &bytes)
            }
        }
    }

    static func rounded(_ ms: Double) -> Double { (ms * 10).rounded() / 10 }

    /// Dollars to a millionth of a cent (a call of a few tokens costs less than a cent).
    static func dollars(_ value: Double) -> Double { (value * 100_000_000).rounded() / 100_000_000 }

    static func append(_ literal: StaticString, _ bytes: inout [UInt8]) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// `value` in decimal, as `String(value)` writes it, without making the string.
    static func appendInt(_ value: Int, _ bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDigits(UInt64(value.magnitude), &bytes)
    }

    private static func appendDigits(_ value: UInt64, _ bytes: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var rest = value, start = 20
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    /// `member` and `ms` rounded to a tenth, written as `JSONNumber(rounded(ms))` writes it
    /// (the shortest text that reads back as that double), but without making that string:
    /// below 10^14 and not negative, the tenths' digits with a point before the last (`0.2`,
    /// `812.4`, `12.0`). Nothing when `ms` is nil or the rounded value is not finite, as the
    /// tree leaves the member out. Three times an outcome, the strings were a visible share of
    /// writing one.
    static func appendTenths(_ member: StaticString, _ ms: Double?, _ bytes: inout [UInt8]) {
        guard let ms else { return }
        let tenths = (ms * 10).rounded()
        guard tenths.isFinite else { return }
        append(member, &bytes)
        // Every whole number of tenths below 10^15 has at most 15 significant digits, so that
        // decimal is the double's shortest text; -0.0 and the rest go the long way.
        guard tenths >= 0, tenths < 1e15, tenths.sign == .plus else {
            bytes.append(contentsOf: (JSONNumber(tenths / 10)?.text ?? "null").utf8)
            return
        }
        let whole = UInt64(tenths)
        appendDigits(whole / 10, &bytes)
        bytes.append(UInt8(ascii: "."))
        bytes.append(UInt8(ascii: "0") + UInt8(whole % 10))
    }
}

extension ItemValue {
    /// Appends the `value` object as compact JSON, byte for byte what writing `json` gives.
    public func writeJSON(into bytes: inout [UInt8]) {
        Outcome.append(#"{"text":"#, &bytes)
        if let text { JSONWriter.writeString(text, into: &bytes) } else { Outcome.append("null", &bytes) }
        Outcome.append(#","finish_reason":"#, &bytes)
        if let finishReason { JSONWriter.writeString(finishReason, into: &bytes) } else { Outcome.append("null", &bytes) }
        Outcome.append(#","model":"#, &bytes)
        if let model { JSONWriter.writeString(model, into: &bytes) } else { Outcome.append("null", &bytes) }
        Outcome.append(#","usage":"#, &bytes)
        if let usage {
            Outcome.append(#"{"input_tokens":"#, &bytes)
            Outcome.appendInt(usage.inputTokens, &bytes)
            Outcome.append(#","output_tokens":"#, &bytes)
            Outcome.appendInt(usage.outputTokens, &bytes)
            if usage.cachedInputTokens > 0 {
                Outcome.append(#","cached_input_tokens":"#, &bytes)
                Outcome.appendInt(usage.cachedInputTokens, &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        } else {
            Outcome.append("null", &bytes)
        }
        if let toolCalls {
            Outcome.append(#","tool_calls":"#, &bytes)
            toolCalls.write(into: &bytes)
        }
        if let raw {
            Outcome.append(#","raw":"#, &bytes)
            raw.write(into: &bytes)
        }
        if let members, !members.bytes.isEmpty {
            bytes.append(UInt8(ascii: ","))
            bytes.append(contentsOf: members.bytes)
        }
        bytes.append(UInt8(ascii: "}"))
    }
}
