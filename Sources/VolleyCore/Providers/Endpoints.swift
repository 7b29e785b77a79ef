import VolleySystem
import VolleyHTTP

/// The request bodies and values of the endpoints besides chat (docs/protocol.md, "Endpoints"):
/// embeddings, Responses, legacy completions and raw calls. Pure: bytes in, value out.
enum Endpoints {
    /// The body an item sends. Embeddings ask for base64 unless the item chose an encoding:
    /// a vector is then one string copied as it is, not 1,536 numbers parsed and written.
    static func body(_ item: Item) -> (body: JSONObject, base64: Bool) {
        var body = item.request
        body.removeValue(forKey: "stream")
        body.removeValue(forKey: "stream_options")
        guard item.endpoint == .embeddings else { return (body, false) }
        if body["encoding_format"] == nil || body["encoding_format"]?.isNull == true {
            body["encoding_format"] = "base64"
        }
        return (body, body["encoding_format"]?.stringValue == "base64")
    }

    /// A 2xx reply of `endpoint` as the item's value.
    static func value(_ endpoint: Item.Endpoint, body: [UInt8], status: Int, includeRaw: Bool) -> Result<ItemValue, ItemError> {
        switch endpoint {
        case .embeddings: return embeddings(body, status: status)
        case .responses: return responses(body, status: status, includeRaw: includeRaw)
        case .completions: return completions(body, status: status, includeRaw: includeRaw)
        case .raw: return raw(body, status: status)
        case .chat, .messages: return .failure(ProviderErrors.malformed("not an endpoint of this decoder", status: status))
        }
    }

    /// `{"data": [{"index", "embedding"}], "model", "usage": {"prompt_tokens"}}` as
    /// `{"embeddings": [...], "encoding": "base64" | "float", "dimensions"}`: each vector's JSON
    /// text copied from the body as it is (a base64 string, or an array of numbers), in index
    /// order, never parsed into numbers.
    static func embeddings(_ body: [UInt8], status: Int) -> Result<ItemValue, ItemError> {
        struct Read {
            var vectors: [(index: Int, range: Range<Int>, base64: Bool)] = []
            var model: String?
            var promptTokens: Int?
            var totalTokens: Int?
            var dimensions: Int?
            /// The elements of `data` when it is an array.
            var dataCount: Int?
        }
        let read = body.withUnsafeBytes { bytes in
            Result { () throws(JSONParseError) -> Read in
                guard let base = bytes.baseAddress, !bytes.isEmpty else { throw JSONParseError(kind: .unexpectedEndOfInput, offset: 0) }
                var read = Read()
                var reader = JSONReader(base: base, count: bytes.count)
                try reader.readObject { reader, key throws(JSONParseError) in
                    // A repeated key replaces what the first one said (the last wins, as in a
                    // parsed tree).
                    if key == "data" {
                        read.vectors = []
                        read.dimensions = nil
                        var elements = 0
                        let isArray = try reader.readArray { reader, position throws(JSONParseError) in
                            elements += 1
                            var index = position
                            var vector: (Range<Int>, Bool)?
                            var count: Int?
                            try reader.readObject { reader, key throws(JSONParseError) in
                                if key == "index" {
                                    index = try reader.readInt() ?? position
                                } else if key == "embedding" {
                                    let kind = try reader.peek()
                                    if kind == .array {
                                        // Count the numbers as they are checked: the dimensions.
                                        var numbers = 0
                                        let start = reader.offset
                                        try reader.readArray { reader, _ throws(JSONParseError) in
                                            numbers += 1
                                            try reader.skip()
                                        }
                                        vector = (start..<reader.offset, false)
                                        count = numbers
                                    } else {
                                        vector = (try reader.readRange(), true)
                                        count = nil
                                    }
                                } else {
                                    try reader.skip()
                                }
                            }
                            if let vector {
                                read.vectors.append((index, vector.0, vector.1))
                                if let count { read.dimensions = count }
                            }
                        }
                        read.dataCount = isArray ? elements : nil
                    } else if key == "model" {
                        read.model = try reader.readString()
                    } else if key == "usage" {
                        read.promptTokens = nil
                        read.totalTokens = nil
                        try reader.readObject { reader, key throws(JSONParseError) in
                            if key == "prompt_tokens" {
                                read.promptTokens = try reader.readInt()
                            } else if key == "total_tokens" {
                                read.totalTokens = try reader.readInt()
                            } else {
                                try reader.skip()
                            }
                        }
                    } else {
                        try reader.skip()
                    }
                }
                try reader.finish()
                return read
            }
        }
        let embeddings: Read
        switch read {
        case .success(let value): embeddings = value
        case .failure(let error): return .failure(ProviderErrors.malformed(error.message, status: status))
        }
        // No vector is an answer only to no input: an empty `data` list. (This was "a body under
        // 64 bytes", which took `0` or `{}` for an answer and a pretty-printed empty list for none.)
        guard !embeddings.vectors.isEmpty || embeddings.dataCount == 0 else {
            return .failure(ProviderErrors.malformed("no data[].embedding", status: status))
        }
        let base64 = embeddings.vectors.first?.base64 ?? true
        guard embeddings.vectors.allSatisfy({ $0.base64 == base64 }) else {
            return .failure(ProviderErrors.malformed("embeddings of mixed encodings", status: status))
        }
        var list: [UInt8] = [UInt8(ascii: "[")]
        list.reserveCapacity(embeddings.vectors.reduce(2) { $0 + $1.range.count + 1 })
        for (position, vector) in embeddings.vectors.sorted(by: { $0.index < $1.index }).enumerated() {
            if position > 0 { list.append(UInt8(ascii: ",")) }
            // Numbers, or one base64 string: no whitespace inside either, so whitespace (a
            // pretty-printed body's newlines) is all there is to drop.
            list.append(contentsOf: body[vector.range].lazy.filter { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 })
        }
        list.append(UInt8(ascii: "]"))
        var members = RawMembers([])
        members.append("embeddings", json: list)
        members.append("encoding", .string(base64 ? "base64" : "float"))
        if let dimensions = embeddings.dimensions {
            members.append("dimensions", .number(JSONNumber(dimensions)))
        } else if let first = embeddings.vectors.first, base64,
                  case .string(let vector)? = try? JSONParser.parse(body[first.range]) {
            // A base64 vector of float32s: 3 bytes per 4 characters, 4 bytes a number. Counted
            // on the decoded string: a server may write `/` as `\/`, which is the same string.
            let text = vector.utf8.filter { $0 > 0x20 }
            let padding = text.reversed().prefix(2).filter { $0 == UInt8(ascii: "=") }.count
            members.append("dimensions", .number(JSONNumber((text.count / 4 * 3 - padding) / 4)))
        }
        var value = ItemValue(text: nil, finishReason: nil, model: embeddings.model,
                              usage: (embeddings.promptTokens ?? embeddings.totalTokens).map { Usage(inputTokens: $0, outputTokens: 0) })
        value.members = members
        return .success(value)
    }

    /// A Responses reply: the text of its `output_text` parts, its function calls as
    /// OpenAI-shaped `tool_calls`, `finish_reason` from its status, and its `id` (for
    /// `previous_response_id`).
    static func responses(_ body: [UInt8], status: Int, includeRaw: Bool) -> Result<ItemValue, ItemError> {
        let json: JSONValue
        do {
            json = try JSONParser.parse(body)
        } catch {
            return .failure(ProviderErrors.malformed(error.message, status: status))
        }
        guard let output = json["output"]?.arrayValue else {
            return .failure(ProviderErrors.malformed("no output array", status: status))
        }
        var texts: [String] = []
        var calls: [JSONValue] = []
        for item in output {
            switch item["type"]?.stringValue {
            case "message":
                for part in item["content"]?.arrayValue ?? [] where part["type"]?.stringValue == "output_text" {
                    if let text = part["text"]?.stringValue { texts.append(text) }
                }
            case "function_call":
                calls.append([
                    "id": item["call_id"] ?? item["id"] ?? .null,
                    "type": "function",
                    "function": ["name": item["name"] ?? .null, "arguments": item["arguments"] ?? .string("{}")],
                ])
            default:
                continue
            }
        }
        var finish: String?
        switch json["status"]?.stringValue {
        case "completed": finish = calls.isEmpty ? "stop" : "tool_calls"
        case "incomplete":
            let reason = json["incomplete_details"]?["reason"]?.stringValue
            finish = reason == "max_output_tokens" ? "length" : reason == "content_filter" ? "content_filter" : reason
        case let other: finish = other
        }
        let usage = Usage(reported: json["usage"])
        var value = ItemValue(text: texts.isEmpty ? nil : texts.joined(), finishReason: finish, model: json["model"]?.stringValue,
                              usage: usage, toolCalls: calls.isEmpty ? nil : .array(calls), raw: includeRaw ? json : nil)
        if let id = json["id"]?.stringValue {
            var members = RawMembers([])
            members.append("id", .string(id))
            value.members = members
        }
        return .success(value)
    }

    /// A legacy completion: `choices[0].text` and its finish reason.
    static func completions(_ body: [UInt8], status: Int, includeRaw: Bool) -> Result<ItemValue, ItemError> {
        let json: JSONValue
        do {
            json = try JSONParser.parse(body)
        } catch {
            return .failure(ProviderErrors.malformed(error.message, status: status))
        }
        guard let choice = json["choices"]?[0] else {
            return .failure(ProviderErrors.malformed("no choices[0]", status: status))
        }
        let usage = Usage(reported: json["usage"])
        return .success(ItemValue(text: choice["text"]?.stringValue, finishReason: choice["finish_reason"]?.stringValue,
                                  model: json["model"]?.stringValue, usage: usage, raw: includeRaw ? json : nil))
    }

    /// A raw call's reply: `{"status": N, "body": ...}`, the body's JSON text as it is (checked),
    /// or as a string when it is not JSON; `usage` when the body has OpenAI's or Anthropic's.
    static func raw(_ body: [UInt8], status: Int) -> Result<ItemValue, ItemError> {
        var members = RawMembers([])
        members.append("status", .number(JSONNumber(status)))
        var usage: Usage?
        if let json = try? JSONParser.parse(body, selecting: .members(["usage": .all, "model": .all])) {
            usage = Usage(reported: json["usage"])
            let text = trimmed(body)
            if text.contains(0x0A) || text.contains(0x0D), let whole = try? JSONParser.parse(body) {
                members.append("body", whole)  // Compact: a line of the protocol holds no newline.
            } else {
                members.append("body", json: text)
            }
            var value = ItemValue(text: nil, finishReason: nil, model: json["model"]?.stringValue, usage: usage)
            value.members = members
            return .success(value)
        }
        members.append("body", .string(String(decoding: body, as: UTF8.self)))
        var value = ItemValue(text: nil, finishReason: nil, model: nil, usage: nil)
        value.members = members
        return .success(value)
    }

    /// The body without the whitespace around it (a JSON document written inside a line).
    private static func trimmed(_ body: [UInt8]) -> ArraySlice<UInt8> {
        let blank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        guard let first = body.firstIndex(where: { !blank($0) }), let last = body.lastIndex(where: { !blank($0) }) else { return [] }
        return body[first...last]
    }
}

extension ProviderConfig {
    /// An item of another endpoint than chat (embeddings, responses, completions, a raw path):
    /// its body POSTed to its URL with the provider's `headers` (auth included), its reply read
    /// by `Endpoints`.
    @inline(never)
    func sendEndpoint(_ item: Item, headers: HTTPHeaders, http: HTTPClient, timeoutSeconds: Double?) async -> Attempt {
        let request = self.request(url: url(for: item.endpoint), headers: headers, body: Endpoints.body(item).body,
                                   timeoutSeconds: timeoutSeconds)
        switch await send(request, timeoutSeconds: timeoutSeconds, http: http) {
        case .success(let response):
            guard (200..<300).contains(response.status) else {
                return Attempt(.failure(ProviderErrors.http(status: response.status, headers: response.headers, body: response.body,
                                                            apiKey: apiKey, nowUnixSeconds: unixTimeSeconds())),
                               rateLimits: response.rateLimits)
            }
            return Attempt(Endpoints.value(item.endpoint, body: response.body, status: response.status, includeRaw: item.includeRaw),
                           rateLimits: response.rateLimits)
        case .failure(let error):
            return Attempt(.failure(error))
        }
    }
}
