import Foundation
import VolleyHTTP

/// OpenAI chat completions (`POST {base_url}/chat/completions`), or any compatible server.
final class OpenAIClient: ProviderClient {
    let config: ProviderConfig
    let http: HTTPClient

    // A class, not a struct: an async method of a struct may copy `self` (the whole
    // provider configuration) into the frame every in-flight item keeps.
    init(config: ProviderConfig, http: HTTPClient) {
        self.config = config
        self.http = http
        url = config.baseURL + "/chat/completions"
        headers = config.requestHeaders(authorization: config.apiKey.map { ("authorization", "Bearer \($0)") })
    }

    private let url: String
    private let headers: HTTPHeaders

    func attempt(_ item: Item, attempt: Int, timeoutSeconds: Double?) async -> Attempt {
        let request = makeRequest(item, timeoutSeconds: timeoutSeconds)
        let sent = await config.send(request, timeoutSeconds: timeoutSeconds, http: http)
        return Self.attempt(from: sent, includeRaw: item.includeRaw, apiKey: config.apiKey)
    }

    @inline(never)
    private func makeRequest(_ item: Item, timeoutSeconds: Double?) -> HTTPRequest {
        var body = item.request
        // Volley answers with whole outcomes; token streaming is not part of protocol v1.
        body.removeValue(forKey: "stream")
        body.removeValue(forKey: "stream_options")
        return config.request(url: url, headers: headers, body: body, timeoutSeconds: timeoutSeconds)
    }

    @inline(never)
    private static func attempt(from sent: Result<HTTPResponse, ItemError>, includeRaw: Bool, apiKey: String?) -> Attempt {
        switch sent {
        case .success(let response):
            return Attempt(decode(response, includeRaw: includeRaw, apiKey: apiKey), rateLimits: response.rateLimits)
        case .failure(let error):
            return Attempt(.failure(error))
        }
    }

    static func decode(_ response: HTTPResponse, includeRaw: Bool, apiKey: String?) -> Result<ItemValue, ItemError> {
        guard (200..<300).contains(response.status) else {
            return .failure(ProviderErrors.http(
                status: response.status, headers: response.headers, body: response.body,
                apiKey: apiKey, nowUnixSeconds: Date().timeIntervalSince1970))
        }
        let json: JSONValue
        do {
            // Only the fields an outcome carries are built, unless the item wants the whole body.
            json = includeRaw ? try JSONParser.parse(response.body)
                : try JSONParser.parse(response.body, selecting: replyFields)
        } catch {
            return .failure(ProviderErrors.malformed(error.message, status: response.status))
        }
        guard let choice = json["choices"]?[0], let message = choice["message"] else {
            if json["error"] != nil {
                return .failure(ProviderErrors.http(
                    status: response.status, headers: response.headers, body: response.body,
                    apiKey: apiKey, nowUnixSeconds: Date().timeIntervalSince1970))
            }
            return .failure(ProviderErrors.malformed("no choices[0].message", status: response.status))
        }
        var usage: Usage?
        if let u = json["usage"], let input = u["prompt_tokens"]?.intValue {
            usage = Usage(inputTokens: input, outputTokens: u["completion_tokens"]?.intValue ?? 0)
        }
        // Spelled out: `JSONValue` is nil-literal-convertible, so `nil` in a ternary would become `.null`.
        var toolCalls: JSONValue?
        if let calls = message["tool_calls"], !calls.isNull { toolCalls = calls }
        return .success(ItemValue(
            text: text(of: message["content"]),
            finishReason: choice["finish_reason"]?.stringValue,
            model: json["model"]?.stringValue,
            usage: usage,
            toolCalls: toolCalls,
            raw: includeRaw ? Optional(json) : Optional.none
        ))
    }

    /// What `decode` reads from a reply (`error` too: some servers put one in a 200).
    static let replyFields: JSONSelection = .members([
        "choices": .members([
            "message": .members(["content": .all, "tool_calls": .all]),
            "finish_reason": .all,
        ]),
        "model": .all,
        "usage": .members(["prompt_tokens": .all, "completion_tokens": .all]),
        "error": .all,
    ])

    /// `content` is a string, null, or (for some compatible servers) an array of parts.
    static func text(of content: JSONValue?) -> String? {
        guard let content else { return nil }
        if let text = content.stringValue { return text }
        if let parts = content.arrayValue {
            let texts = parts.compactMap { $0["text"]?.stringValue }
            return texts.isEmpty ? nil : texts.joined()
        }
        return nil
    }
}
