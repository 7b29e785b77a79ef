import Testing
import VolleyHTTP
@testable import VolleyCore

struct ProviderErrorTests {
    func classify(_ status: Int, _ body: String, headers: HTTPHeaders = [:]) -> ItemError {
        ProviderErrors.http(status: status, headers: headers, body: Array(body.utf8), apiKey: "sk-secret-123", nowUnixSeconds: 0)
    }

    @Test func transportFailuresMapToConnectionOrTimeoutAndStaleOnesAreNamed() {
        let stale = ProviderErrors.transport(
            HTTPClientError(.connectionLost, "Send failure: Broken pipe", curlCode: 55, staleConnection: true),
            deadlineBound: false)
        #expect(stale.kind == .connection && stale.retryable)
        #expect(stale.message.hasPrefix("connection lost on a reused keep-alive connection before any response"))
        let unsent = ProviderErrors.transport(
            HTTPClientError(.connectionLost, "Stream error in the HTTP/2 framing layer", curlCode: 92, requestNotSent: true),
            deadlineBound: false)
        #expect(unsent.kind == .connection && unsent.retryable)
        #expect(unsent.message.hasPrefix("the server ended the HTTP/2 stream before the request was sent in full and before any response"))
        // Not stale (a fresh connection, or after a status line: `TransferFailure` decides):
        // retried as before (the SDKs retry connection errors whatever the method), unlabelled.
        let lost = ProviderErrors.transport(HTTPClientError(.connectionLost, "reset", curlCode: 56), deadlineBound: false)
        #expect(lost.kind == .connection && lost.retryable && lost.message == "reset")
        #expect(!ProviderErrors.transport(HTTPClientError(.tls, "bad cert"), deadlineBound: false).retryable)
        #expect(!ProviderErrors.transport(HTTPClientError(.timeout, "slow"), deadlineBound: true).retryable)
    }

    @Test func statusesMapToKindsAndRetryability() {
        let cases: [(Int, String, ErrorKind, Bool)] = [
            (429, #"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#, .rateLimited, true),
            (429, #"{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}"#, .quotaExceeded, false),
            (400, #"{"error":{"message":"bad","type":"invalid_request_error","code":null}}"#, .http, false),
            (400, #"{"error":{"message":"too long","code":"context_length_exceeded"}}"#, .tooLarge, false),
            (408, "", .http, true), (409, "", .http, true), (500, "", .http, true), (502, "oops", .http, true),
            (503, "", .overloaded, true),
            (529, #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#, .overloaded, true),
            (401, #"{"error":{"message":"Incorrect API key provided: sk-secret-123"}}"#, .http, false),
            (400, #"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API."}}"#, .quotaExceeded, false),
        ]
        for (status, body, kind, retryable) in cases {
            let error = classify(status, body)
            #expect(error.kind == kind, "\(status) \(body)")
            #expect(error.retryable == retryable, "\(status) \(body)")
            #expect(error.status == status)
        }
    }

    @Test func shouldRetryHeaderOverridesAndKeysAreRedacted() {
        #expect(classify(500, "", headers: ["x-should-retry": "false"]).retryable == false)
        #expect(classify(400, "", headers: ["x-should-retry": "true"]).retryable == true)
        let auth = classify(401, #"{"error":{"message":"Incorrect API key provided: sk-secret-123"}}"#)
        #expect(!auth.message.contains("sk-secret-123"))
        #expect(auth.message.contains("[redacted]"))
        #expect(classify(429, "", headers: ["retry-after": "3"]).retryAfterSeconds == 3)
    }
}

struct AnthropicTranslationTests {
    @Test func translatesSystemToolsStopAndMaxTokens() throws {
        let body: JSONObject = [
            "model": "claude-x", "temperature": 0.2, "stop": "END", "seed": 3, "top_k": 5,
            "messages": [
                ["role": "system", "content": "be brief"],
                ["role": "user", "content": "hi"],
                ["role": "assistant", "content": .null, "tool_calls": [["id": "t1", "type": "function", "function": ["name": "f", "arguments": #"{"a":1}"#]]]],
                ["role": "tool", "tool_call_id": "t1", "content": "42"],
            ],
            "tools": [["type": "function", "function": ["name": "f", "description": "d", "parameters": ["type": "object"]]]],
            "tool_choice": "required",
        ]
        let out = try AnthropicTranslation.request(fromOpenAI: body).get()
        #expect(out["system"] == "be brief")
        #expect(out["max_tokens"] == .number(JSONNumber(AnthropicTranslation.defaultMaxTokens)))
        #expect(out["stop_sequences"] == ["END"])
        #expect(out["seed"] == nil)  // OpenAI-only, dropped.
        #expect(out["top_k"] == 5)   // Unknown to us: passed through.
        #expect(out["temperature"] == 0.2)
        #expect(out["tool_choice"] == ["type": "any"])
        #expect(out["tools"]?[0]?["input_schema"] == ["type": "object"])
        let messages = try #require(out["messages"]?.arrayValue)
        #expect(messages.count == 3)
        #expect(messages[0]["content"]?[0]?["text"] == "hi")
        #expect(messages[1]["content"]?[0]?["type"] == "tool_use")
        #expect(messages[1]["content"]?[0]?["input"] == ["a": 1])
        #expect(messages[2]["content"]?[0]?["type"] == "tool_result")
    }

    @Test func responseBecomesOpenAIShapedValue() throws {
        let response: JSONValue = [
            "id": "msg_1", "type": "message", "model": "claude-x", "stop_reason": "tool_use",
            "content": [["type": "text", "text": "Let me check."], ["type": "tool_use", "id": "tu1", "name": "f", "input": ["q": "x"]]],
            "usage": ["input_tokens": 10, "output_tokens": 3],
        ]
        let value = try AnthropicTranslation.value(fromResponse: response, includeRaw: false, status: 200).get()
        #expect(value.text == "Let me check.")
        #expect(value.finishReason == "tool_calls")
        #expect(value.usage == Usage(inputTokens: 10, outputTokens: 3))
        #expect(value.toolCalls?[0]?["function"]?["arguments"] == #"{"q":"x"}"#)
    }

    @Test func missingMessagesIsInvalidRequest() {
        guard case .failure(let error) = AnthropicTranslation.request(fromOpenAI: ["model": "m"]) else {
            Issue.record("accepted a body without messages")
            return
        }
        #expect(error.kind == .invalidRequest)
    }
}

struct ValueShapeTests {
    @Test func valuesCarryNoRawOrToolCallsUnlessThereAreSome() throws {
        let body = #"{"id":"c","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi","tool_calls":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#
        let response = HTTPResponse(head: HTTPResponseHead(status: 200, headers: [:], version: .http1_1), body: Array(body.utf8),
                                    info: HTTPTransferInfo(connectionReused: false, httpVersion: .http1_1, connectSeconds: 0,
                                                           timeToFirstByteSeconds: 0, totalSeconds: 0, retryAfterSeconds: nil))
        let plain = try OpenAIClient.decode(response, includeRaw: false, apiKey: nil).get()
        #expect(plain.raw == nil && plain.toolCalls == nil)
        guard case .object(let object) = plain.json else { Issue.record("value is not an object"); return }
        #expect(object["raw"] == nil && object["tool_calls"] == nil)
        let withRaw = try OpenAIClient.decode(response, includeRaw: true, apiKey: nil).get()
        #expect(withRaw.raw?["id"] == "c")
        let anthropic = try AnthropicTranslation.value(
            fromResponse: ["content": [["type": "text", "text": "hi"]], "stop_reason": "end_turn"], includeRaw: false, status: 200).get()
        #expect(anthropic.raw == nil && anthropic.toolCalls == nil)
    }
}

/// The reply reader that skips what an outcome does not carry must agree with reading the
/// fields out of a full parse, on well-formed and odd replies alike.
struct OpenAIReplyReadingTests {
    static let bodies: [String] = [
        #"{"id":"c","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hi \u00e9 \"there\""},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":0}}}"#,
        #"{"model":"m","choices":[{"message":{"content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
        #"{"model":"m","choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}],"usage":{"prompt_tokens":1.0,"completion_tokens":2e0}}"#,
        #"{"model":"m","choices":[{"message":{"content":"first"}},{"message":{"content":"second"}}]}"#,
        #"{"model":"m","choices":[{"message":{"content":"c"}}],"usage":{"prompt_tokens":2048,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0}}}"#,
        #"{"model":"m","choices":[{"message":{"content":"a"}}],"model":"last","usage":{"prompt_tokens":1},"usage":{"completion_tokens":3}}"#,
        #"{"error":{"message":"boom","type":"server_error"}}"#,
        #"{"error":null,"choices":[]}"#,
        #"{"choices":[{"message":"not an object"}]}"#,
        #"{"choices":{"0":{"message":{"content":"x"}}}}"#,
        #"{"choices":[7,{"message":{"content":"x"}}]}"#,
        #"{"model":7,"choices":[{"message":{"content":"x"},"finish_reason":false}],"usage":{"prompt_tokens":"9"}}"#,
        #"[1,2,3]"#,
        #"{"choices":[{"message":{"content":"x"}}]} trailing"#,
        #"{"choices":[{"message":{"content":"x"}}],"skip":[1,}"#,
        #"{"choices":[{"message":{"content":"x"}}],"skip":"\q"}"#,
        "",
        // A repeated `choices`: the last one wins, as in the tree. The reader kept the first's
        // message and finish reason (fuzz-providers' lean-vs-full check; Tests/FuzzCorpus/providers).
        #"{"choices":[{"message":{"content":"a"},"finish_reason":"stop"}],"choices":[{"message":{}}]}"#,
        #"{"choices":[{"message":{"content":"a"}}],"choices":[]}"#,
        #"{"choices":[{"message":{"content":"a"}}],"choices":7}"#,
        // Names one byte off the ones read (shorter, longer, the last of 8 or 16 bytes), each
        // after the real one: a false match would overwrite its value.
        #"{"model":"m","mode":"x","modelx":"y","choices":[{"message":{"content":"yes","contenu":"no","conten":"no"},"messagf":{"content":"no"}}],"usage":{"prompt_tokens":1,"prompt_tokenz":5,"completion_tokens":2,"completion_tokenz":8,"completion_tokensx":9}}"#,
    ]

    @Test(arguments: bodies)
    func readingAgreesWithParsing(_ body: String) {
        let bytes = Array(body.utf8)
        let read = Result { () throws(JSONParseError) in try OpenAIClient.Reply(reading: bytes) }
        let parsed = Result { () throws(JSONParseError) in try OpenAIClient.Reply(parsing: bytes) }
        switch (read, parsed) {
        case (.success(let a), .success(let b)):
            #expect(a.model == b.model)
            #expect(a.hasMessage == b.hasMessage)
            #expect(a.content == b.content)
            #expect(a.toolCalls == b.toolCalls)
            #expect(a.finishReason == b.finishReason)
            #expect(a.promptTokens == b.promptTokens)
            #expect(a.completionTokens == b.completionTokens)
            #expect(a.cachedTokens == b.cachedTokens)
            #expect(a.hasError == b.hasError)
        case (.failure(let a), .failure(let b)):
            #expect(a == b)
        default:
            Issue.record("reading and parsing disagree on \(body): \(read) vs \(parsed)")
        }
    }
}

struct AnthropicReplySelectionTests {
    @Test(arguments: [
        #"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Hi"},{"type":"tool_use","id":"t1","name":"f","input":{"a":[1,2]}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":5,"cache_read_input_tokens":0}}"#,
        #"{"model":"claude-x","content":[],"stop_reason":"end_turn"}"#,
        #"{"model":"claude-x","content":[{"type":"text","text":"x"}],"usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":2000,"cache_creation_input_tokens":300}}"#,
        #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
    ])
    func aSelectiveParseGivesTheSameValueAsAFullOne(_ body: String) throws {
        let bytes = Array(body.utf8)
        let selected = AnthropicTranslation.value(
            fromResponse: try JSONParser.parse(bytes, selecting: AnthropicClient.replyFields), includeRaw: false, status: 200)
        let full = AnthropicTranslation.value(fromResponse: try JSONParser.parse(bytes), includeRaw: false, status: 200)
        switch (selected, full) {
        case (.success(let a), .success(let b)): #expect(a == b)
        case (.failure(let a), .failure(let b)): #expect(a.kind == b.kind && a.message == b.message)
        default: Issue.record("selective and full parses disagree on \(body)")
        }
    }
}
