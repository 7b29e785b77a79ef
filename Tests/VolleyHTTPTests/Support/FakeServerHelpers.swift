import FakeLLM
import VolleyHTTP

/// A chat-completions request to the fake server, scripted with `x-fake-*` headers.
func chatRequest(
    _ server: FakeLLMServer,
    prompt: String = "hello",
    path: String = "/v1/chat/completions",
    script: [String: String] = [:],
    stream: Bool = false,
    timeoutSeconds: Double? = 30,
    connectTimeoutSeconds: Double = 5,
    stallSeconds: Int? = nil,
    stallMinimumBytesPerSecond: Int = 1
) -> HTTPRequest {
    var headers: HTTPHeaders = ["content-type": "application/json"]
    for (key, value) in script { headers.add(name: "x-fake-\(key)", value: value) }
    let escaped = prompt.replacingOccurrences(of: "\"", with: "\\\"")
    let body = #"{"model":"gpt-4o-mini","max_tokens":32,"stream":\#(stream),"messages":[{"role":"user","content":"\#(escaped)"}]}"#
    return HTTPRequest(
        url: server.baseURL + path,
        method: "POST",
        headers: headers,
        body: Array(body.utf8),
        connectTimeoutSeconds: connectTimeoutSeconds,
        timeoutSeconds: timeoutSeconds,
        stallSeconds: stallSeconds,
        stallMinimumBytesPerSecond: stallMinimumBytesPerSecond
    )
}

extension HTTPResponse {
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// The error kind a throwing call ended with, or nil if it succeeded.
func errorKind(_ body: () async throws -> Void) async -> HTTPClientError.Kind? {
    do {
        try await body()
        return nil
    } catch let error as HTTPClientError {
        return error.kind
    } catch {
        return .other
    }
}
