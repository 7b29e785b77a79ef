import VolleyJSON

/// Decides the answer to one complete HTTP request: routing, scripting, limits, failures and the
/// body, as a `ResponsePlan`. It never touches a socket; the connection handler carries it out.
struct RequestPlanner: Sendable {
    /// One request as read off the wire.
    struct Input: Sendable {
        var method: String
        var uri: String
        var headers: [(String, String)]
        var body: [UInt8]
        /// True when the body exceeded the size limit and was dropped.
        var bodyTooLarge = false
    }

    /// Which API a model endpoint speaks.
    enum API: Sendable {
        case openAI
        case anthropic
    }

    let core: ServerCore

    /// Largest request body read (bigger bodies are answered 413).
    static let maxBodyBytes = 32 * 1024 * 1024

    func plan(_ input: Input) -> ResponsePlan {
        let path = String(input.uri.prefix(while: { $0 != "?" }))
        if input.method == "POST", let endpoint = FakeEndpoint(path: path) {
            return model(endpoint, input)
        }
        switch (input.method, path) {
        case ("GET", "/v1/models"):
            return json(200, ModelList.body, path: path)
        case ("GET", "/fake/stats"):
            var plan = json(200, StatsJSON.body(core.stats(), uptimeSeconds: core.now()), path: path)
            plan.tracked = false
            return plan
        case ("POST", "/fake/reset"):
            core.resetStats()
            var plan = json(200, .object(["ok": .bool(true)]), path: path)
            plan.tracked = false
            return plan
        default:
            if path.hasPrefix("/v1/messages") {
                let body = AnthropicFormat.errorBody(type: "not_found_error", message: "Not found")
                return json(404, body, path: path)
            }
            let body = OpenAIFormat.errorBody(
                message: "Invalid URL (\(input.method) \(path))", type: "invalid_request_error")
            return json(404, body, path: path)
        }
    }

    private func json(_ status: Int, _ body: JSONValue, path: String, extraHeaders: [(String, String)] = []) -> ResponsePlan {
        ResponsePlan(
            status: status, headers: [("content-type", "application/json")] + extraHeaders,
            body: .full(body.jsonBytes))
    }

    // MARK: Model endpoints

    /// A model request: refused at once when `maxInFlight` are already in flight (before any
    /// scripting, and without charging the limits), else answered holding an in-flight slot.
    private func model(_ endpoint: FakeEndpoint, _ input: Input) -> ResponsePlan {
        let api = endpoint.api
        var ids = FakeIdentifiers(seed: core.nextIdentifier())
        let requestID = api == .openAI ? ids.requestID() : ids.make("req_")
        let baseHeaders: [(String, String)] =
            api == .openAI
            ? [("x-request-id", requestID), ("openai-organization", "org-fake"), ("openai-version", "2020-10-01")]
            : [("request-id", requestID)]

        if case .refused(let limit) = core.admitModelRequest() {
            // The model only names the record; a body that does not parse leaves it unknown.
            let model = FakeRequestFields.model(of: try? JSONParser.parse(input.body))
            let failure = FakeFailure.concurrencyLimit(limit: limit, hinted: core.configuration.concurrencyHintInBody)
            var plan = render(failure, api: api, model: model ?? "unknown", baseHeaders: baseHeaders, script: nil)
            plan.model = model
            return plan
        }
        var plan = admitted(endpoint, input, ids: &ids, baseHeaders: baseHeaders)
        plan.holdsInFlightSlot = true
        return plan
    }

    /// The answer to a model request let in by the in-flight cap: scripting, limits, the reply.
    private func admitted(
        _ endpoint: FakeEndpoint, _ input: Input, ids: inout FakeIdentifiers, baseHeaders: [(String, String)]
    ) -> ResponsePlan {
        let api = endpoint.api
        func failurePlan(_ failure: FakeFailure, model: String?, script: FakeScript?) -> ResponsePlan {
            var plan = render(failure, api: api, model: model ?? "unknown", baseHeaders: baseHeaders, script: script)
            plan.model = model
            return plan
        }

        if input.bodyTooLarge {
            return failurePlan(.status(413), model: nil, script: nil)
        }
        let body: JSONValue
        do {
            body = try JSONParser.parse(input.body)
        } catch {
            let message =
                api == .openAI
                ? "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
                    + "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid "
                    + "JSON: \(error.message).)"
                : "There was an error parsing the body: \(error.message)."
            return failurePlan(.invalidRequest(message: message, param: nil), model: nil, script: nil)
        }
        let model = FakeRequestFields.model(of: body)
        let script: FakeScript
        do {
            script = try FakeScript.parse(headers: input.headers, body: body)
        } catch {
            return failurePlan(.invalidRequest(message: "Invalid fake scripting: \(error.message)", param: "fake"), model: model, script: nil)
        }
        let request: FakeModelRequest
        do {
            request = try endpoint.read(body)
        } catch {
            var plan = failurePlan(.invalidRequest(message: error.message, param: error.param), model: model, script: script)
            plan.delayMilliseconds = script.latencyMs ?? core.sampleLatencyMilliseconds()
            return plan
        }

        var plan: ResponsePlan
        let tokenCost = request.tokenCost(defaultOutputTokens: core.configuration.defaultOutputTokens)
        switch decide(script: script, tokenCost: tokenCost) {
        case .failure(let failure):
            plan = failurePlan(failure, model: request.model, script: script)
        case .success(let snapshot):
            var headers = baseHeaders
            if let snapshot, core.configuration.rateLimitHeaders { headers += rateLimitHeaders(api, snapshot) }
            let answer = success(request, script: script, ids: &ids)
            let contentType = answer.body.isEvents ? Self.sseHeaders : [("content-type", "application/json")]
            plan = ResponsePlan(status: 200, headers: contentType + headers, body: answer.body)
            plan.isModelReply = true
            plan.outputTokens = answer.outputTokens
        }
        plan.model = request.model
        plan.inputTokens = request.inputTokens
        plan.mode = script.mode
        plan.delayMilliseconds = script.latencyMs ?? core.sampleLatencyMilliseconds()
        plan.chunkDelayMilliseconds = script.chunkDelayMs ?? 0
        if let shouldRetry = script.shouldRetry { plan.headers.append(("x-should-retry", shouldRetry ? "true" : "false")) }
        if api == .openAI { plan.headers.append(("openai-processing-ms", String(Int(plan.delayMilliseconds)))) }
        Self.apply(script.mode, to: &plan)
        return plan
    }

    private enum Verdict {
        case success(RateLimiter.Snapshot?)
        case failure(FakeFailure)
    }

    /// The order of decisions: scripted outcomes first, then the limits, then random failures.
    private func decide(script: FakeScript, tokenCost: Int) -> Verdict {
        switch script.mode {
        case .insufficientQuota:
            return .failure(.quota)
        case .rateLimit:
            let (snapshot, wait) = core.limiterState(tokenCost: tokenCost)
            let limit = snapshot.requests?.limit ?? snapshot.tokens?.limit ?? 1
            let kind: RateLimiter.Kind = snapshot.requests == nil && snapshot.tokens != nil ? .tokens : .requests
            return .failure(
                .rateLimit(
                    kind: kind, limit: limit, used: limit, requested: kind == .requests ? 1 : tokenCost,
                    retryAfterSeconds: wait > 0 && wait.isFinite ? wait : 1))
        default:
            break
        }
        if let rate = script.failRate {
            if core.draw(probability: rate) {
                let status = script.status.flatMap { $0 == 200 ? nil : $0 } ?? 500
                return .failure(.status(status))
            }
        } else if let status = script.status, status != 200 {
            return .failure(.status(status))
        }
        var snapshot: RateLimiter.Snapshot?
        if core.hasLimits {
            switch core.admit(tokenCost: tokenCost) {
            case .admitted(let state):
                snapshot = state
            case .limited(let kind, let limit, let used, let requested, let wait, _):
                return .failure(
                    .rateLimit(kind: kind, limit: limit, used: used, requested: requested, retryAfterSeconds: wait))
            case .tooLarge(let limit, let requested, _):
                return .failure(.tooLarge(limit: limit, requested: requested))
            }
        }
        if core.draw(probability: core.configuration.failureRate) {
            return .failure(.status(core.configuration.failureStatus))
        }
        return .success(snapshot)
    }

    /// The `x-ratelimit-*` or `anthropic-ratelimit-*` headers of `snapshot`.
    private func rateLimitHeaders(_ api: API, _ snapshot: RateLimiter.Snapshot) -> [(String, String)] {
        switch api {
        case .openAI: return OpenAIFormat.rateLimitHeaders(snapshot)
        case .anthropic: return AnthropicFormat.rateLimitHeaders(snapshot, unixTime: core.unixTime())
        }
    }

    /// The body of a successful answer to `request` (JSON, or SSE events when it streams) and
    /// the output tokens it carries.
    private func success(
        _ request: FakeModelRequest, script: FakeScript, ids: inout FakeIdentifiers
    ) -> (body: ResponsePlan.Body, outputTokens: Int) {
        let defaultOutputTokens = core.configuration.defaultOutputTokens
        func reply(_ request: FakeChatRequest) -> FakeReply {
            FakeReply.make(for: request, script: script, defaultOutputTokens: defaultOutputTokens)
        }
        let created = Int(core.unixTime())
        switch request {
        case .chatCompletions(let request):
            let reply = reply(request)
            let id = ids.make("chatcmpl-")
            let callID = ids.make("call_")
            if request.stream {
                let events = OpenAIFormat.streamEvents(
                    id: id, callID: callID, created: created, model: request.model, reply: reply,
                    promptTokens: request.inputTokens, includeUsage: request.includeUsage)
                return (.events(events), reply.outputTokens)
            }
            let body = OpenAIFormat.completion(
                id: id, callID: callID, created: created, model: request.model, reply: reply,
                promptTokens: request.inputTokens)
            return (.full(body.jsonBytes), reply.outputTokens)
        case .responses(let request):
            let reply = reply(request)
            let responseIDs = ResponsesFormat.IDs(
                response: ids.make("resp_"), item: ids.make(reply.toolCall == nil ? "msg_" : "fc_"),
                call: ids.make("call_"))
            if request.stream {
                let events = ResponsesFormat.streamEvents(
                    ids: responseIDs, created: created, request: request, reply: reply)
                return (.events(events), reply.outputTokens)
            }
            let body = ResponsesFormat.response(ids: responseIDs, created: created, request: request, reply: reply)
            return (.full(body.jsonBytes), reply.outputTokens)
        case .completions(let request):
            let replies = FakeReply.makeEach(
                for: request, script: script, defaultOutputTokens: defaultOutputTokens)
            let outputTokens = replies.reduce(0) { $0 + $1.outputTokens }
            let id = ids.make("cmpl-")
            if request.stream {
                let events = OpenAIFormat.textCompletionEvents(
                    id: id, created: created, model: request.model, replies: replies,
                    promptTokens: request.inputTokens, includeUsage: request.includeUsage)
                return (.events(events), outputTokens)
            }
            let body = OpenAIFormat.textCompletion(
                id: id, created: created, model: request.model, replies: replies, promptTokens: request.inputTokens)
            return (.full(body.jsonBytes), outputTokens)
        case .embeddings(let request):
            return (.full(OpenAIFormat.embeddings(request).jsonBytes), 0)
        case .messages(let request):
            let reply = reply(request)
            let id = ids.make("msg_")
            let toolID = ids.make("toolu_")
            if request.stream {
                let events = AnthropicFormat.streamEvents(
                    id: id, toolID: toolID, model: request.model, reply: reply, inputTokens: request.inputTokens)
                return (.events(events), reply.outputTokens)
            }
            let body = AnthropicFormat.message(
                id: id, toolID: toolID, model: request.model, reply: reply, inputTokens: request.inputTokens)
            return (.full(body.jsonBytes), reply.outputTokens)
        }
    }

    static let sseHeaders: [(String, String)] = [
        ("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache"),
    ]

    /// An error response in the API's shape, with retry and rate-limit headers.
    private func render(
        _ failure: FakeFailure, api: API, model: String, baseHeaders: [(String, String)], script: FakeScript?
    ) -> ResponsePlan {
        var headers = [("content-type", "application/json")] + baseHeaders
        let (failure, retryAfter) = Self.retryAfter(for: failure, configuration: core.configuration)
        let status: Int
        let body: JSONValue
        switch api {
        case .openAI:
            status = failure.status
            body = OpenAIFormat.error(failure, model: model, statesWait: retryAfter != nil)
        case .anthropic:
            (status, body) = AnthropicFormat.error(failure)
        }
        if core.hasLimits, core.configuration.rateLimitHeaders {
            headers += rateLimitHeaders(api, core.limiterState(tokenCost: 0).snapshot)
        }
        if let wait = retryAfter, wait.isFinite {
            let seconds = min(max(0, wait), 1e9)
            headers.append(("retry-after", String(Int(seconds.rounded(.up)))))
            if api == .openAI { headers.append(("retry-after-ms", String(Int((seconds * 1000).rounded(.up))))) }
        }
        if let value = script?.retryAfter { Self.replace("retry-after", with: value, in: &headers) }
        if let value = script?.retryAfterMs { Self.replace("retry-after-ms", with: value, in: &headers) }
        return ResponsePlan(status: status, headers: headers, body: .full(body.jsonBytes))
    }

    /// The `retry-after` a failure carries (nil: none) and the failure restated with it, so an
    /// OpenAI message names the same wait: `retryAfterSecondsOn429` for every rate-limit 429,
    /// else the computed wait of a limit unless `rateLimitHeaders` is off.
    static func retryAfter(
        for failure: FakeFailure, configuration: FakeLLMConfiguration
    ) -> (failure: FakeFailure, retryAfterSeconds: Double?) {
        let fixed = configuration.retryAfterSecondsOn429.flatMap { $0.isFinite ? min(max(0, $0), 1e9) : nil }
        switch failure {
        case .rateLimit(let kind, let limit, let used, let requested, let wait):
            let seconds = fixed ?? (configuration.rateLimitHeaders ? wait : nil)
            return (.rateLimit(kind: kind, limit: limit, used: used, requested: requested, retryAfterSeconds: seconds), seconds)
        case .concurrencyLimit, .status(429):
            return (failure, fixed)
        case .status, .invalidRequest, .quota, .tooLarge:
            return (failure, nil)
        }
    }

    private static func replace(_ name: String, with value: String, in headers: inout [(String, String)]) {
        headers.removeAll { $0.0 == name }
        headers.append((name, value))
    }

    /// Turns a complete plan into what `mode` delivers.
    static func apply(_ mode: FakeMode, to plan: inout ResponsePlan) {
        switch mode {
        case .ok, .insufficientQuota, .rateLimit:
            plan.delivery = .complete
        case .reset, .resetStream:
            plan.delivery = .partialThenReset
        case .stall:
            plan.delivery = .partialThenStall
        case .stallHeaders:
            plan.delivery = .never
        case .garbageChunked:
            plan.delivery = .garbageChunked
        case .truncatedChunked:
            plan.delivery = .truncatedChunked
        case .malformed, .cutStream:
            switch plan.body {
            case .full(let bytes):
                plan.body = .full(ResponsePlan.partial(of: bytes))
                plan.delivery = .complete
            case .events(var events):
                if mode == .cutStream {
                    plan.delivery = .partialThenEnd
                } else {
                    let index = min(1, events.count - 1)
                    if index >= 0 {
                        events[index] = ResponsePlan.partial(of: events[index]) + Array("\n\n".utf8)
                    }
                    plan.body = .events(events)
                    plan.delivery = .complete
                }
            }
        }
    }
}
