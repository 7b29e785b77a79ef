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
        if let latencyMs, let number = JSONNumber(Self.rounded(latencyMs)) {
            Self.append(#","latency_ms":"#, &bytes)
            bytes.append(contentsOf: number.text.utf8)
        }
        if let queuedMs, let number = JSONNumber(Self.rounded(queuedMs)) {
            Self.append(#","queued_ms":"#, &bytes)
            bytes.append(contentsOf: number.text.utf8)
        }
        if let ttftMs, let number = JSONNumber(Self.rounded(ttftMs)) {
            Self.append(#","ttft_ms":"#, &bytes)
            bytes.append(contentsOf: number.text.utf8)
        }
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

    static func appendInt(_ value: Int, _ bytes: inout [UInt8]) {
        bytes.append(contentsOf: String(value).utf8)
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
