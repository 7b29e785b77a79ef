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

struct EndpointTokenEstimateTests {
    @Test func eachEndpointReservesWhatItCanSpend() {
        let input = String(repeating: "abcd", count: 100)
        #expect(TokenEstimate.split(for: ["input": .string(input), "max_tokens": 500], endpoint: .embeddings) == TokenCount(input: 100, output: 0))
        #expect(TokenEstimate.split(for: ["input": .string(input), "instructions": "abcd", "max_output_tokens": 50], endpoint: .responses)
                == TokenCount(input: 101, output: 50))
        #expect(TokenEstimate.split(for: ["prompt": .string(input), "max_tokens": 7], endpoint: .completions) == TokenCount(input: 100, output: 7))
        // A raw call of a known API's path counts as that API: a Batch chat line keeps its max_tokens.
        let chat: JSONObject = ["messages": [["role": "user", "content": .string(input)]], "max_tokens": 9]
        #expect(TokenEstimate.split(for: chat, endpoint: .raw(path: "/v1/chat/completions")) == TokenCount(input: 100, output: 9))
        #expect(TokenEstimate.split(for: ["x": "abcdefgh"], endpoint: .raw(path: "/v1/moderations")).output == 0)
    }
}
