import VolleyHTTP

/// Maps transport failures and provider error responses to outcome errors, in one place.
enum ProviderErrors {
    /// A transport failure of one attempt.
    ///
    /// Connection failures are retried, a connection lost mid-call (`connectionLost`) too, for
    /// a POST whose request may have reached the model: it is what the official SDKs do
    /// (connection errors are retried whatever the method), and a possibly duplicated,
    /// billed call is the lesser harm than a failed item. A stale pooled connection
    /// (`staleConnection`: lost on a reused connection before any response) is the case where
    /// the request certainly did not reach the model. `send` resends such a request once on a
    /// new connection before it becomes an error at all; one that still arrives here (a
    /// caller that does not resend) is retried and named as such.
    static func transport(_ error: HTTPClientError, deadlineBound: Bool) -> ItemError {
        if error.staleConnection {
            return ItemError(.connection, "connection lost on a reused keep-alive connection before any response: \(error.message)",
                             retryable: true)
        }
        if error.requestNotSent {
            return ItemError(.connection, "the server ended the HTTP/2 stream before the request was sent in full and before any response: \(error.message)",
                             retryable: true)
        }
        switch error.kind {
        case .connectTimeout, .connectionFailed, .tls, .connectionLost:
            return ItemError(.connection, error.message, retryable: error.kind != .tls)
        case .timeout, .stalled:
            return ItemError(.timeout, error.message, retryable: !deadlineBound)
        case .streamTruncated:
            return ItemError(.providerError, error.message, retryable: true)
        case .responseTooLarge:
            return ItemError(.providerError, error.message, retryable: false)
        case .invalidRequest:
            return ItemError(.invalidRequest, error.message)
        case .cancelled, .shutdown:
            return ItemError(.cancelled, "cancelled")
        case .other:
            return ItemError(.connection, error.message, retryable: true)
        }
    }

    /// A non-2xx response. Reads OpenAI's `{"error": {message, type, code}}` and Anthropic's
    /// `{"type": "error", "error": {type, message}}`; honours `x-should-retry`.
    static func http(status: Int, headers: HTTPHeaders, body: [UInt8], apiKey: String?, nowUnixSeconds: Double) -> ItemError {
        let parsed = try? JSONParser.parse(body)
        let errorObject = parsed?["error"]
        let message = errorObject?["message"]?.stringValue ?? errorObject?.stringValue
        let type = errorObject?["type"]?.stringValue
        let code = errorObject?["code"]?.stringValue ?? type
        let text = redact(message.map { "HTTP \(status): \($0)" } ?? "HTTP \(status)", apiKey: apiKey)
        let retryAfter = RetryAfter.seconds(from: headers, nowUnixSeconds: nowUnixSeconds)

        var kind: ErrorKind
        var retryable: Bool
        switch status {
        case 429 where code == "insufficient_quota" || type == "insufficient_quota":
            kind = .quotaExceeded
            retryable = false
        case 429:
            kind = .rateLimited
            retryable = true
        case 400 where message?.contains("credit balance is too low") ?? false:
            // Anthropic's way of saying insufficient_quota.
            kind = .quotaExceeded
            retryable = false
        case 413:
            kind = .tooLarge
            retryable = false
        case 400 where code == "context_length_exceeded" || (message?.contains("maximum context length") ?? false)
            || (message?.contains("prompt is too long") ?? false):
            kind = .tooLarge
            retryable = false
        case 408, 409:
            kind = .http
            retryable = true
        case 503, 529:
            kind = .overloaded
            retryable = true
        case 500...599:
            kind = .http
            retryable = true
        default:
            kind = .http
            retryable = false
        }
        if kind != .quotaExceeded, let hint = headers["x-should-retry"]?.lowercased() {
            if hint == "true" { retryable = true }
            if hint == "false" { retryable = false }
        }
        return ItemError(kind, text, status: status, retryable: retryable, retryAfterSeconds: retryAfter, providerCode: code)
    }

    /// A 2xx response whose body we could not read. The call was billed, so it is not retried.
    static func malformed(_ detail: String, status: Int) -> ItemError {
        ItemError(.providerError, "unreadable response body: \(detail)", status: status, retryable: false)
    }

    /// Removes the API key from text that came from elsewhere (provider messages can echo it).
    static func redact(_ text: String, apiKey: String?) -> String {
        guard let apiKey, apiKey.count >= 4, text.contains(apiKey) else { return text }
        return text.replacing(apiKey, with: "[redacted]")
    }
}
