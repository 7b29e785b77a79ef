import Testing
@testable import VolleyCore

/// The mock refuses what a real provider would (issue 14.4): script typos and malformed
/// bodies fail with `invalid_request` instead of passing on the mock and failing in production.
struct MockValidationTests {
    private func item(_ request: JSONObject) -> Item { Item(request: request) }
    private let hello: JSONValue = [["role": "user", "content": "hi"]]

    @Test(arguments: [
        (["messages": [["role": "user", "content": "hi"]], "mock": ["latency": 100]] as JSONObject, "unknown `mock` field `latency`"),
        (["messages": [["role": "user", "content": "hi"]], "mock": ["fail": "explode"]], "`mock.fail` must be one of"),
        (["messages": [["role": "user", "content": "hi"]], "mock": ["fail": "cancelled"]], "`mock.fail` must be one of"),
        (["messages": [["role": "user", "content": "hi"]], "mock": ["latency_ms": -1]], "`mock.latency_ms` must be"),
        (["messages": [["role": "user", "content": "hi"]], "mock": ["status": 99]], "`mock.status` must be"),
        (["messages": [["role": "user", "content": "hi"]], "mock": "fast"], "`mock` must be an object"),
        ([:], "`messages` is required"),
        (["messages": "x"], "`messages` must be an array"),
        (["messages": []], "at least one message"),
        (["messages": ["hi"]], "`messages[0]` must be an object"),
        (["messages": [["role": "human", "content": "hi"]]], "`messages[0].role` must be one of"),
        (["messages": [["role": "user", "content": 5]]], "`messages[0].content` must be a string or an array"),
        (["messages": [["role": "user"]]], "`messages[0].content` is required"),
    ] as [(JSONObject, String)])
    func refusesWhatAProviderWould(_ request: JSONObject, _ message: String) {
        let problem = MockClient.invalidRequest(item(request))
        #expect(problem?.contains(message) == true, "got \(problem ?? "nothing")")
    }

    @Test func acceptsWhatAProviderAccepts() {
        let valid: [JSONObject] = [
            ["messages": hello],
            ["messages": [["role": "system", "content": "be brief"], ["role": "user", "content": [["type": "text", "text": "hi"]]]]],
            ["messages": [["role": "user", "content": "hi"], ["role": "assistant", "content": .null, "tool_calls": []],
                          ["role": "tool", "content": "42"]]],
            ["messages": hello, "mock": ["latency_ms": 0, "reply": "x", "fail": "rate_limited", "fail_attempts": 1,
                                         "status": 429, "retry_after": 0.5]],
            ["messages": hello, "mock": .null],
        ]
        for request in valid {
            #expect(MockClient.invalidRequest(item(request)) == nil, "\(JSONValue.object(request).jsonString)")
        }
    }

    @Test func aRefusalIsAFinal400AtTheFirstAttempt() async {
        let client = MockClient(config: ProviderConfig(name: "mock", kind: .mock), clock: SystemClock())
        let attempt = await client.attempt(item(["messages": "x", "mock": ["latency_ms": 60_000]]), attempt: 1, timeoutSeconds: nil)
        guard case .failure(let error) = attempt.result else {
            Issue.record("accepted")
            return
        }
        #expect(error.kind == .invalidRequest && error.status == 400 && !error.retryable)
        #expect(error.message == "mock: `messages` must be an array")
    }
}
