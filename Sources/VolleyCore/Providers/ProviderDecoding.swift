import VolleyHTTP

/// The providers' readers of bytes a server sent, in one place for the fuzz targets
/// (`Sources/Fuzz`): whole replies, endpoint replies, and event streams, each exactly as an
/// attempt reads them. `package`: the clients that own these readers stay internal.
package enum ProviderDecoding {
    /// An OpenAI chat-completions reply (any status) as the item's value or error.
    package static func openAI(_ response: HTTPResponse, includeRaw: Bool, apiKey: String?) -> Result<ItemValue, ItemError> {
        OpenAIClient.decode(response, includeRaw: includeRaw, apiKey: apiKey)
    }

    /// An Anthropic Messages reply (any status) as the item's value or error.
    package static func anthropic(_ response: HTTPResponse, includeRaw: Bool, apiKey: String?) -> Result<ItemValue, ItemError> {
        AnthropicClient.decode(response, includeRaw: includeRaw, apiKey: apiKey)
    }

    /// A 2xx reply of an endpoint besides chat (embeddings, Responses, completions, raw).
    package static func endpoint(_ endpoint: Item.Endpoint, body: [UInt8], status: Int, includeRaw: Bool) -> Result<ItemValue, ItemError> {
        Endpoints.value(endpoint, body: body, status: status, includeRaw: includeRaw)
    }

    /// A non-2xx reply's error (its body and headers read as every provider's are).
    package static func refusal(status: Int, headers: HTTPHeaders, body: [UInt8], apiKey: String?, nowUnixSeconds: Double) -> ItemError {
        ProviderErrors.http(status: status, headers: headers, body: body, apiKey: apiKey, nowUnixSeconds: nowUnixSeconds)
    }

    /// Which provider's event stream.
    package enum Stream {
        case openAI, anthropic
    }

    /// A streamed attempt: `events` (as the SSE parser made them) read by the provider's stream
    /// reader until it refuses one, after `head`; a non-2xx head's `errorBody` is its error.
    /// Returns the deltas the host would get and the attempt's end.
    package static func stream(_ stream: Stream, head: HTTPResponseHead?, errorBody: [UInt8] = [], events: [SSEEvent],
                               includeRaw: Bool, apiKey: String?) -> (deltas: [StreamDelta], attempt: Attempt) {
        switch stream {
        case .openAI:
            read(OpenAIClient.StreamReader(includeRaw: includeRaw), head: head, errorBody: errorBody, events: events, apiKey: apiKey)
        case .anthropic:
            read(AnthropicClient.StreamReader(includeRaw: includeRaw), head: head, errorBody: errorBody, events: events, apiKey: apiKey)
        }
    }

    /// As `ProviderConfig.stream` does with the events of a transfer.
    private static func read(_ reader: some ProviderStreamReader, head: HTTPResponseHead?, errorBody: [UInt8], events: [SSEEvent],
                             apiKey: String?) -> (deltas: [StreamDelta], attempt: Attempt) {
        var reader = reader
        var streamed = ProviderConfig.Streamed(head: head, errorBody: errorBody)
        var deltas: [StreamDelta] = []
        // The transport hands events to the reader only for a 2xx stream.
        if let head, (200..<300).contains(head.status) {
            for event in events {
                switch reader.read(event) {
                case .success(let delta):
                    if let delta { deltas.append(delta) }
                    continue
                case .failure(let error):
                    streamed.failure = error
                }
                break
            }
        }
        return (deltas, reader.attempt(streamed, apiKey: apiKey))
    }
}
