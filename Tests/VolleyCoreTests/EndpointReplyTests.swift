import Testing
@testable import VolleyCore

/// Endpoint replies read without building a tree must mean what the tree means.
struct EndpointReplyTests {
    private func embeddings(_ body: String) throws -> JSONValue {
        try Endpoints.embeddings(Array(body.utf8), status: 200).get().json
    }

    /// A repeated key's last value wins, as in a parsed tree; the walk added the vectors of a
    /// repeated `data` to the first's and kept a replaced usage (found by fuzz-providers'
    /// rewrite check: the body and its tree written again must decode alike).
    @Test func repeatedKeysOfAnEmbeddingsReplyKeepTheirLastValue() throws {
        let value = try embeddings(#"{"data":[{"index":0,"embedding":[1,2,3]}],"data":[{"index":0,"embedding":[4,5]}],"usage":{"prompt_tokens":5},"usage":{"total_tokens":2}}"#)
        #expect(value["embeddings"] == [[4, 5]])
        #expect(value["dimensions"] == 2)
        #expect(value["usage"]?["input_tokens"] == 2)
        let replaced = try embeddings(#"{"data":[{"index":0,"embedding":[1,2,3],"embedding":"AACAPwAAAEA="}],"model":"m"}"#)
        #expect(replaced["embeddings"] == ["AACAPwAAAEA="])
        #expect(replaced["encoding"] == "base64")
        #expect(replaced["dimensions"] == 2)
    }

    /// An embeddings reply without vectors is an answer only when its `data` is an empty list,
    /// however it is spaced; a body under 64 bytes used to pass whatever it held (found by
    /// fuzz-providers: `0` in a padded body failed, the same `0` alone passed).
    @Test func anEmbeddingsReplyWithoutVectorsIsAnAnswerOnlyWhenDataIsEmpty() throws {
        for body in ["0", "{}", "[]", #"{"data":{}}"#, #"{"data":[{"index":0}]}"#, " 0 " + String(repeating: "\r", count: 80)] {
            #expect(throws: ItemError.self, "\(body)") { try Endpoints.embeddings(Array(body.utf8), status: 200).get() }
        }
        let empty = try embeddings(#"{"object":"list","data":[],"model":"text-embedding-3-small","usage":{"prompt_tokens":0,"total_tokens":0}}"#)
        #expect(empty["embeddings"] == [])
        let spaced = try embeddings("{\n  \"data\": [ ],\n" + String(repeating: " ", count: 80) + "\"model\": \"m\"\n}")
        #expect(spaced["embeddings"] == [])
    }

    /// A base64 vector's dimensions are counted on the decoded string: `\/` is `/` (found by
    /// fuzz-providers' rewrite check, escapes counted as characters).
    @Test func base64DimensionsCountTheDecodedString() throws {
        let escaped = try embeddings(#"{"data":[{"index":0,"embedding":"AAC\/PwAAAEA="}]}"#)
        #expect(escaped["dimensions"] == 2)
        #expect(escaped["embeddings"] == ["AAC/PwAAAEA="])
        let notAString = try embeddings(#"{"data":[{"index":0,"embedding":true}]}"#)
        #expect(notAString["dimensions"] == nil)
    }
}
