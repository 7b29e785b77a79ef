import FakeLLM
import FakeLLMTestSupport
import Foundation
import Testing
import VolleyCore
import VolleyTestSupport

/// Token streaming (docs/protocol.md, "Token streaming"), through the built binary against the
/// fake server and the mock: deltas, their order, resets, the faults a stream can have, and a
/// host that stops reading.
@Suite("Token streaming", .timeLimit(.minutes(3)), .tags(.endToEnd))
struct TokenStreamingTests {
    /// What a request's notifications said, per item: the text since the last reset, how many
    /// deltas and resets, the attempts deltas came from, and whether any came after the outcome.
    struct Heard {
        var text: [Int: String] = [:]
        var deltas: [Int: Int] = [:]
        var resets: [Int: Int] = [:]
        var attempts: [Int: Set<Int>] = [:]
        var outcomes: [Int: JSONValue] = [:]
        var deltaAfterOutcome = false
        /// Item indices in the order their deltas arrived (for interleaving).
        var order: [Int] = []
    }

    /// Reads `volley`'s stdout up to the response to `id`.
    static func heard(_ volley: VolleyProcess, id: JSONValue, timeout: Double = 60) async throws -> (Heard, JSONValue) {
        let end = try await volley.responseIndex(to: id, timeout: timeout)
        var heard = Heard()
        for line in volley.stdout.lines.prefix(end + 1) {
            guard let value = line.value, let params = value["params"], params["request"] == id else { continue }
            guard let index = params["index"]?.intValue else { continue }
            switch value["method"]?.stringValue {
            case "delta":
                if heard.outcomes[index] != nil { heard.deltaAfterOutcome = true }
                heard.text[index, default: ""] += params["text"]?.stringValue ?? ""
                heard.deltas[index, default: 0] += 1
                heard.attempts[index, default: []].insert(params["attempt"]?.intValue ?? 0)
                heard.order.append(index)
            case "reset":
                heard.text[index] = ""
                heard.resets[index, default: 0] += 1
            case "item":
                heard.outcomes[index] = params
            default:
                break
            }
        }
        let response = try requireValue(volley.stdout.lines[end].value)
        for outcome in response["result"]?["results"]?.arrayValue ?? [] {
            if let index = outcome["index"]?.intValue { heard.outcomes[index] = outcome }
        }
        return (heard, response)
    }

    static func streamed(key: String, fake: JSONObject = [:], maxRetries: Int? = nil) -> JSONValue {
        guard case .object(var item) = fakeItem(key: key, fake: fake) else { return .null }
        item["stream"] = true
        if let maxRetries { item["max_retries"] = .number(JSONNumber(maxRetries)) }
        return .object(item)
    }

    @Test("200 items streamed at once through as_completed: each item's deltas are its text, items interleave, TTFT reported")
    func twoHundredItemsStreamAtOnce() async throws {
        try await withFakeServer { server in
            try await withVolley(environment: [fakeKeyEnv: "sk-fake"]) { volley in
                try await configureFake(volley, server)
                let items = JSONValue.array((0..<200).map { Self.streamed(key: "k\($0)", fake: ["chunk_delay_ms": 5, "output_tokens": 12]) })
                try volley.send(rpcRequest("as_completed", id: "s", params: ["requests": items, "concurrency": 200]))
                let (heard, response) = try await Self.heard(volley, id: "s")
                #expect(response["result"]?["stats"]?["succeeded"] == 200, "\(response.jsonString.prefix(300))")
                #expect(heard.outcomes.count == 200)
                for index in 0..<200 {
                    let outcome = heard.outcomes[index]
                    let text = outcome?["value"]?["text"]?.stringValue
                    #expect(text != nil && heard.text[index] == text, "item \(index): deltas \(heard.text[index] ?? "none") vs \(text ?? "none")")
                    #expect((heard.deltas[index] ?? 0) > 3, "item \(index) came in pieces")
                    #expect(outcome?["ttft_ms"]?.doubleValue.map { $0 >= 0 } == true, "item \(index): ttft_ms")
                    #expect(outcome?["value"]?["usage"]?["output_tokens"] == 12, "usage asked for with stream_options")
                }
                #expect(!heard.deltaAfterOutcome, "every delta of an item comes before its outcome")
                // Interleaved: the first 200 deltas are not all one item's.
                #expect(Set(heard.order.prefix(200)).count > 20)
                #expect(server.stats().requests == 200)
            }
        }
    }

    @Test("openai and anthropic streams: text and tool calls from deltas equal the whole answer, usage and finish reason read",
          arguments: ["openai", "anthropic"])
    func bothProviders(kind: String) async throws {
        try await withFakeServer(withoutRequestRecords) { server in
            try await withVolley(environment: [fakeKeyEnv: "k"]) { volley in
                _ = try await volley.request("configure", id: 1, params: ["providers": [
                    "p": ["kind": .string(kind), "base_url": .string(server.baseURL + "/v1"), "api_key_env": .string(fakeKeyEnv)],
                ]])
                let model: JSONValue = kind == "openai" ? "gpt-4o-mini" : "claude-3-5-haiku-latest"
                let tools: JSONValue = [["type": "function", "function": [
                    "name": "get_weather", "parameters": ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]]]]]
                let items: JSONValue = [
                    ["provider": "p", "stream": true, "request": ["model": model, "max_tokens": 64,
                                                                  "messages": [["role": "user", "content": "Hello"]], "fake": ["chunk_delay_ms": 1]]],
                    ["provider": "p", "stream": true, "request": ["model": model, "max_tokens": 64, "tools": tools,
                                                                  "messages": [["role": "user", "content": "Weather?"]], "fake": ["tool_call": true]]],
                ]
                try volley.send(rpcRequest("gather", id: "b", params: ["requests": items]))
                let (heard, _) = try await Self.heard(volley, id: "b")
                let text = heard.outcomes[0]?["value"]
                #expect(text?["text"]?.stringValue?.isEmpty == false && heard.text[0] == text?["text"]?.stringValue, "\(text?.jsonString ?? "")")
                #expect(text?["finish_reason"] == "stop" && text?["usage"]?["output_tokens"]?.intValue.map { $0 > 0 } == true)
                let tool = heard.outcomes[1]?["value"]
                #expect(tool?["finish_reason"] == "tool_calls", "\(tool?.jsonString ?? "")")
                // The tool call's pieces, joined, are the whole answer's arguments.
                var arguments = ""
                var name: String?
                for line in volley.stdout.lines {
                    guard let params = line.value?["params"], line.value?["method"] == "delta", params["index"] == 1 else { continue }
                    for piece in params["tool_calls"]?.arrayValue ?? [] {
                        arguments += piece["arguments"]?.stringValue ?? ""
                        name = name ?? piece["name"]?.stringValue
                    }
                }
                #expect(name == "get_weather")
                #expect(tool?["tool_calls"]?[0]?["function"]?["arguments"]?.stringValue == arguments, "pieces: \(arguments)")
                #expect((try? JSONParser.parse(Array(arguments.utf8)))?["city"] != nil)
            }
        }
    }

    @Test("faults: cut stream, reset mid-stream, malformed event, 429 before the first byte, silence", arguments: [
        ("cut_stream", "provider_error", 2, 1),
        ("reset_stream", "connection", 2, 1),
        ("malformed", "provider_error", 1, 0),
        ("rate_limit", "rate_limited", 2, 0),
    ] as [(String, String, Int, Int)])
    func faults(mode: String, kind: String, attempts: Int, resets: Int) async throws {
        try await withFakeServer { server in
            try await withVolley(environment: [fakeKeyEnv: "sk-fake"]) { volley in
                try await configureFake(volley, server)
                let item = Self.streamed(key: mode, fake: ["mode": .string(mode), "chunk_delay_ms": 2, "output_tokens": 20,
                                                           "retry_after": "0"], maxRetries: 1)
                try volley.send(rpcRequest("gather", id: "f", params: ["requests": [item]]))
                let (heard, _) = try await Self.heard(volley, id: "f")
                let outcome = heard.outcomes[0]
                #expect(outcome?["ok"] == false, "\(outcome?.jsonString ?? "no outcome")")
                #expect(outcome?["error"]?["kind"]?.stringValue == kind, "\(outcome?.jsonString ?? "")")
                #expect(outcome?["attempts"]?.intValue == attempts, "\(outcome?.jsonString ?? "")")
                #expect(heard.resets[0, default: 0] == resets, "resets: \(heard.resets)")
                if mode == "rate_limit" { #expect(heard.deltas[0] == nil, "refused before the first byte: nothing streamed") }
            }
        }
    }

    @Test("a stream silent for longer than timeouts.stream_idle is a timeout")
    func silentStreamTimesOut() async throws {
        try await withFakeServer { server in
            try await withVolley(environment: [fakeKeyEnv: "sk-fake"]) { volley in
                let providers = fakeProviders(server, extra: ["timeouts": ["stream_idle": 1]])
                _ = try await volley.request("configure", id: "c", params: ["providers": providers])
                let item = Self.streamed(key: "quiet", fake: ["mode": "stall", "chunk_delay_ms": 1, "output_tokens": 50])
                let started = ContinuousClock.now
                try volley.send(rpcRequest("gather", id: "q", params: ["requests": [item]]))
                let (heard, _) = try await Self.heard(volley, id: "q", timeout: 30)
                #expect(heard.outcomes[0]?["error"]?["kind"] == "timeout", "\(heard.outcomes[0]?.jsonString ?? "")")
                #expect(ContinuousClock.now - started < .seconds(15), "noticed within seconds, not at the request timeout")
            }
        }
    }

    @Test("a mock stream cut after two pieces is reset and streamed again; the host's text is the whole reply once")
    func resetThenWhole() async throws {
        try await withVolley { volley in
            let item: JSONValue = ["provider": "mock", "stream": true, "request": [
                "messages": [["role": "user", "content": "x"]],
                "mock": ["latency_ms": 1, "reply": "abcdefghijkl", "fail": "connection", "fail_attempts": 1, "fail_after_chunks": 2],
            ]]
            try volley.send(rpcRequest("call", id: "c", params: item))
            let (heard, response) = try await Self.heard(volley, id: "c")
            #expect(response["result"]?["text"] == "abcdefghijkl")
            #expect(response["result"]?["ttft_ms"]?.doubleValue != nil)
            #expect(heard.resets[0] == 1 && heard.attempts[0] == [1, 2])
            #expect(heard.text[0] == "abcdefghijkl", "after the reset, only the second attempt's text: \(heard.text[0] ?? "")")
        }
    }

    @Test("a host that stops reading for 10 s while 100 items stream: deltas merge, no text lost, RSS bounded")
    func slowHostLosesNothing() async throws {
        try await withVolley(readStdout: false) { volley in
            // 100 streamed mock items of 40,000 characters each: 4 MB of text in 10,000 pieces
            // each, far past the 1 MiB from which deltas merge and the pipe's 64 KiB.
            let reply = String(repeating: "0123456789", count: 4_000)
            let item: JSONValue = ["provider": "mock", "stream": true, "request": [
                "messages": [["role": "user", "content": "x"]], "mock": ["latency_ms": 0, "reply": .string(reply)],
            ]]
            try volley.send(rpcRequest("as_completed", id: "slow", params: ["requests": .array(Array(repeating: item, count: 100))]))
            var peak = 0
            for _ in 0..<50 {
                try await Task.sleep(for: .milliseconds(200))  // Paces the sampling; decides nothing.
                peak = max(peak, volley.residentKiB() ?? 0)
            }
            volley.startReadingStdout()
            let (heard, response) = try await Self.heard(volley, id: "slow", timeout: 60)
            #expect(response["result"]?["stats"]?["succeeded"] == 100)
            for index in 0..<100 { #expect(heard.text[index] == reply, "item \(index): \(heard.text[index]?.count ?? 0) characters") }
            let pieces = heard.deltas.values.reduce(0, +)
            #expect(pieces < 100 * 10_000, "merged while the host was not reading: \(pieces) deltas")
            #expect(peak < 200 * 1024, "peak RSS \(peak) KiB")
            print("slow host: \(pieces) deltas for 1,000,000 pieces, peak RSS \(peak) KiB")
        }
    }
}
