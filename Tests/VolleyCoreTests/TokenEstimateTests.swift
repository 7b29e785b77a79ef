import Testing
@testable import VolleyCore

struct TokenEstimateTests {
    @Test func countsMessageTextQuarterCharactersPlusMaxTokens() {
        let body: JSONObject = [
            "messages": [["role": "system", "content": "12345678"], ["role": "user", "content": [["type": "text", "text": "abcd"]]]],
            "max_tokens": 100,
        ]
        #expect(TokenEstimate.tokens(for: body) == 3 + 100)
        #expect(TokenEstimate.tokens(for: ["messages": [["role": "user", "content": "x"]]]) == 1 + TokenEstimate.defaultOutputTokens)
        #expect(TokenEstimate.tokens(for: ["messages": [], "max_completion_tokens": 7]) == 7)
    }
}
