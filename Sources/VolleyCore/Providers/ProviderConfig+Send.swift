import VolleySystem
import VolleyHTTP

extension ProviderConfig {
    /// The header carrying the key: `api_key_header` when set (the key as it is), else the
    /// kind's own (`authorization: Bearer KEY`, `x-api-key: KEY`); nil without a key.
    var keyHeader: (name: String, value: String)? {
        guard let apiKey, kind != .mock else { return nil }
        if let apiKeyHeader { return (apiKeyHeader, apiKey) }
        return kind == .anthropic ? ("x-api-key", apiKey) : ("authorization", "Bearer \(apiKey)")
    }

    /// The headers of every request to this provider: JSON in and out, the key, the
    /// provider's own extra headers, then the configured `headers` (which win). Made once per
    /// client, not per request.
    func requestHeaders(authorization: (name: String, value: String)?, extraHeaders: HTTPHeaders = HTTPHeaders()) -> HTTPHeaders {
        var headers: HTTPHeaders = ["content-type": "application/json", "accept": "application/json"]
        for field in extraHeaders { headers.replaceOrAdd(name: field.name, value: field.value) }
        if let authorization { headers.add(name: authorization.name, value: authorization.value) }
        for (name, value) in self.headers { headers.replaceOrAdd(name: name, value: value) }
        return headers
    }

    /// The POST of `body` as JSON to `url` with `headers` (from `requestHeaders`), timeouts and
    /// CA, bounded by `timeoutSeconds` (the item's time left) and `timeouts.request`.
    ///
    /// Building the request is kept out of the async `send`: every value an async function
    /// touches may take room in its task's frame for as long as the item runs, and at 2,000
    /// items in flight that room is most of the sidecar's memory.
    @inline(never)
    func request(url: String, headers: HTTPHeaders, body: JSONObject, timeoutSeconds: Double?) -> HTTPRequest {
        HTTPRequest(
            url: url,
            method: "POST",
            headers: headers,
            body: JSONValue.object(body).jsonBytes,
            connectTimeoutSeconds: connectTimeoutSeconds,
            timeoutSeconds: timeoutSeconds.map { min($0, requestTimeoutSeconds) } ?? requestTimeoutSeconds,
            caFile: caFile
        )
    }

    /// How many times `send` sends again a request the server never had in full
    /// (`HTTPClientError.requestNotSent`).
    static let unsentResends = 4

    /// Sends `request` (from `request(...)`, bounded by `timeoutSeconds`). Transport failures
    /// come back as outcome errors; any HTTP status is a response.
    ///
    /// A request that failed on a stale pooled connection (`HTTPClientError.staleConnection`:
    /// lost on a reused connection before any response) is sent once more at once, on a new
    /// connection, within the same attempt: it never reached the model, so this is not a
    /// retry of the call. It spends no retry, no backoff and no second admission, and works
    /// with `max_retries: 0`. A second failure is the attempt's error, retried (or not) as any.
    ///
    /// A request whose HTTP/2 stream the server ended before it was sent in full and before
    /// any response (`HTTPClientError.requestNotSent`: the server answered early, and libcurl
    /// 7.88 lost the answer) never reached the model either. It is sent again on the
    /// connection it had, up to `unsentResends` times in the same attempt: the race that lost
    /// the answer can recur (on 1,600 calls to a server that always answers early, one resend
    /// still left 6 failed on a loaded machine).
    @inline(never)
    func send(_ request: HTTPRequest, timeoutSeconds: Double?, http: HTTPClient) async -> Result<HTTPResponse, ItemError> {
        var request = request
        var resentStale = false
        var resentUnsent = 0
        while true {
            do {
                return .success(try await http.execute(request))
            } catch let error as HTTPClientError where error.staleConnection && !resentStale {
                resentStale = true
                request = Self.onNewConnection(request)
            } catch let error as HTTPClientError where error.requestNotSent && resentUnsent < Self.unsentResends {
                resentUnsent += 1
            } catch {
                return .failure(sendError(error, timeoutSeconds: timeoutSeconds))
            }
        }
    }

    /// What a streamed request came to: the response head (nil when none arrived), and the
    /// body of a non-2xx response.
    struct Streamed {
        var head: HTTPResponseHead?
        var errorBody: [UInt8] = []
        /// Set when the transfer failed, or `onEvent` stopped it.
        var failure: ItemError?

        var rateLimits: RateLimitState { head?.rateLimits ?? RateLimitState() }

        /// A non-2xx answer as the attempt's error (read from its body); nil for a 2xx stream.
        func refusal(apiKey: String?) -> Attempt? {
            guard let head, !(200..<300).contains(head.status) else { return nil }
            return Attempt(.failure(ProviderErrors.http(status: head.status, headers: head.headers, body: errorBody,
                                                        apiKey: apiKey, nowUnixSeconds: unixTimeSeconds())), rateLimits: rateLimits)
        }
    }

    /// Sends `request` as a stream of server-sent events (`sse`), handing each event of a 2xx
    /// response to `onEvent` as it arrives; `onEvent` returning an error stops the transfer.
    /// The stream may stay silent `timeouts.stream_idle` at most (then a `timeout`); one that
    /// ends without its terminal event fails (`provider_error`, retried).
    func stream(_ request: HTTPRequest, sse: SSEOptions, timeoutSeconds: Double?, http: HTTPClient,
                onEvent: (SSEEvent) -> ItemError?) async -> Streamed {
        var request = request
        request.stallSeconds = max(1, Int(streamIdleSeconds.rounded(.up)))
        request.headers.replaceOrAdd(name: "accept", value: "text/event-stream")
        var streamed = Streamed()
        do {
            for try await part in http.stream(request, sse: sse) {
                switch part {
                case .head(let head):
                    streamed.head = head
                case .body(let bytes):
                    // A non-2xx answer's body (an error object): bounded, it is only read for its message.
                    if streamed.errorBody.count < 1 << 20 { streamed.errorBody.append(contentsOf: bytes) }
                case .event(let event):
                    if let failure = onEvent(event) {
                        streamed.failure = failure
                        return streamed  // Ending the iteration aborts the transfer.
                    }
                case .end:
                    break
                }
            }
        } catch {
            streamed.failure = sendError(error, timeoutSeconds: timeoutSeconds)
        }
        return streamed
    }

    /// One streamed attempt read by `reader`: each event's delta to `onDelta` as it arrives (an
    /// event the reader refuses stops the transfer), then the reader's whole answer.
    func stream<Reader: ProviderStreamReader>(_ request: HTTPRequest, sse: SSEOptions, reader: Reader, timeoutSeconds: Double?,
                                              http: HTTPClient, onDelta: @Sendable (StreamDelta) -> Void) async -> Attempt {
        var reader = reader
        let streamed = await stream(request, sse: sse, timeoutSeconds: timeoutSeconds, http: http) { event in
            switch reader.read(event) {
            case .success(let delta):
                if let delta { onDelta(delta) }
                return nil
            case .failure(let error):
                return error
            }
        }
        return reader.attempt(streamed, apiKey: apiKey)
    }

    @inline(never)
    private static func onNewConnection(_ request: HTTPRequest) -> HTTPRequest {
        var request = request
        request.freshConnection = true
        return request
    }

    @inline(never)
    private func sendError(_ error: any Error, timeoutSeconds: Double?) -> ItemError {
        guard let error = error as? HTTPClientError else { return ItemError(.cancelled, "cancelled") }
        // When the item's deadline, not the provider's request timeout, bounded the attempt,
        // a timeout is final (the engine reports it as the item's timeout).
        let bound = timeoutSeconds.map { $0 < requestTimeoutSeconds } ?? false
        return ProviderErrors.transport(error, deadlineBound: bound)
    }
}

extension HTTPResponse {
    /// The provider's rate-limit headers, read at the time of the response.
    var rateLimits: RateLimitState { head.rateLimits }
}

extension HTTPResponseHead {
    /// The provider's rate-limit headers, read at the time of the response.
    package var rateLimits: RateLimitState {
        // Only these fields become strings (a reply has ~20 headers).
        let fields = headers(withNamePrefixes: ["x-ratelimit-", "anthropic-ratelimit-"])
        if fields.count == 0 { return RateLimitState() }
        return RateLimitHeaders.parse(fields, nowUnixSeconds: unixTimeSeconds())
    }
}

/// Reads one provider's event stream: each event's delta for the host, then the whole answer.
protocol ProviderStreamReader {
    /// The delta of one event (nil when it carries none), or why the stream must stop.
    mutating func read(_ event: SSEEvent) -> Result<StreamDelta?, ItemError>
    /// The attempt's end: the whole answer, or why there is none.
    func attempt(_ streamed: ProviderConfig.Streamed, apiKey: String?) -> Attempt
}

extension ProviderStreamReader {
    /// An event's JSON data; one that is not JSON stops the stream (`provider_error`, not
    /// retried: the server is broken, not busy).
    static func json(of event: SSEEvent) -> Result<JSONValue, ItemError> {
        do {
            return .success(try JSONParser.parse(Array(event.data.utf8)))
        } catch {
            return .failure(ItemError(.providerError, "an event of the stream is not JSON: \(error.message)", status: 200, retryable: false))
        }
    }
}
