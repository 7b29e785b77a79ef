/// One server-sent event (https://html.spec.whatwg.org/multipage/server-sent-events.html).
public struct SSEEvent: Sendable, Hashable {
    /// The `event:` field; `nil` when the event had none (a "message" event).
    public var event: String?
    /// The `data:` lines joined with `\n`.
    public var data: String
    /// The `id:` field, when present.
    public var id: String?

    public init(event: String? = nil, data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }
}

/// How a streamed response is parsed as server-sent events, and which event ends it.
public struct SSEOptions: Sendable {
    /// Returns true for the event that completes the stream. A 2xx stream that ends
    /// without one fails with `HTTPClientError.Kind.streamTruncated`, even if the
    /// connection closed cleanly. Called on the transport thread: keep it cheap.
    public var isTerminal: @Sendable (SSEEvent) -> Bool

    public init(isTerminal: @escaping @Sendable (SSEEvent) -> Bool) {
        self.isTerminal = isTerminal
    }

    /// OpenAI chat completions: the stream ends with `data: [DONE]`.
    public static let openAI = SSEOptions { $0.data == "[DONE]" }
    /// Anthropic Messages: the stream ends with `event: message_stop`.
    public static let anthropic = SSEOptions { $0.event == "message_stop" }
}
