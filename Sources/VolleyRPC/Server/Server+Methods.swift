import VolleyCore
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

extension Server {
    /// The protocol version this server speaks (docs/protocol.md), answered in `initialize`
    /// and printed by `volley --version`; `initialize` refuses any other.
    public static let protocolVersion = 1

    // MARK: - Requests that are not cancellable

    /// Answers a request that is neither cancellable nor `shutdown`. None of these waits: the
    /// dispatcher runs `initialize` and `configure` right on the reader thread (see
    /// ``RPCMethod/Other/changesConfiguration``) and the rest from a short task.
    func handleOther(_ method: RPCMethod.Other, _ params: JSONValue?, _ responder: RPCResponder) {
        do throws(RPCError) {
            switch method {
            case .initialize: responder.respond(result: try initialize(params))
            case .ping:
                _ = try Params(params, method: method.rawValue, allowed: [])
                responder.respond(result: .object([:]))
            case .cancel: responder.respond(result: try cancel(params))
            case .stats:
                _ = try Params(params, method: method.rawValue, allowed: [])
                responder.respond(result: .object(statsJSON()))
            case .configure: responder.respond(result: try configure(params, method: method.rawValue))
            case .exit:
                // `exit` is a notification; sent as a request it is answered, then honoured.
                responder.respond(result: .null)
                handleExitRequest()
            }
        } catch {
            responder.respond(error: error)
        }
    }

    /// `shutdown`: validates its params and stops accepting requests at once (on the reader
    /// thread), then answers `null` from a task once the running work has settled.
    func startShutdown(_ params: JSONValue?, _ responder: RPCResponder) {
        let mode: String
        do throws(RPCError) {
            let p = try Params(params, method: "shutdown", allowed: ["mode"])
            mode = try p.string("mode") ?? "drain"
            guard mode == "drain" || mode == "cancel" else {
                throw RPCError.invalidParams("shutdown: `mode` must be \"drain\" or \"cancel\"")
            }
        } catch {
            responder.respond(error: error)
            return
        }
        registry.beginShutdown()
        markShutdownRequested()
        if mode == "cancel" { registry.cancelAll() }
        registry.startOther {
            await self.registry.waitUntilIdle()
            responder.respond(result: .null)
        }
    }

    private func initialize(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        let p = try Params(params, method: "initialize",
                           allowed: ["protocol_version", "client", "providers", "default_provider", "environment"])
        if let requested = p.value("protocol_version") {
            guard requested.intValue == Self.protocolVersion else {
                throw RPCError(code: .invalidParams, message: "unsupported protocol_version \(requested.jsonString); this server speaks \(Self.protocolVersion)",
                               data: ["supported": [.number(JSONNumber(Self.protocolVersion))], "requested": requested])
            }
        }
        if let client = p.value("client") {
            let name = "\(client["name"]?.stringValue ?? "?") \(client["version"]?.stringValue ?? "")"
            clientName.withLock { $0 = name }
            logger.info("client connected", metadata: ["client": "\(name)"])
        }
        if let environment = try Self.environment(p, method: "initialize") {
            // The host's own variables: its providers start over as if it had spawned us.
            do {
                session.reset(environment: environment, providers: try options.providersFor(environment))
            } catch {
                throw .invalidParams("initialize: \(error.message)")
            }
        }
        var warnings: [String] = []
        if p.value("providers") != nil || p.value("default_provider") != nil {
            let defaultProvider = try p.string("default_provider")
            do {
                warnings = try session.configure(providers: p.value("providers"), defaultProvider: defaultProvider)
            } catch {
                throw .invalidParams("initialize: \(error.message)")
            }
            logConfiguration("initialize", session.providerSet)
        }
        let set = session.providerSet
        var result: JSONObject = [
            "protocol_version": .number(JSONNumber(Self.protocolVersion)),
            "server": ["name": "volley", "version": .string(options.version), "pid": .number(JSONNumber(Int(getpid())))],
            "capabilities": [
                "methods": .array(RPCMethod.all.map { .string($0.name) }),
                "provider_kinds": .array(ProviderKind.allCases.map { .string($0.rawValue) }),
                "providers": .array(set.providers.keys.sorted().map(JSONValue.string)),
                "default_provider": set.defaultName.map(JSONValue.string) ?? .null,
                // What items may ask for beyond version 1's first release: a host checks before sending.
                "endpoints": .array((Item.Endpoint.names + ["path"]).map(JSONValue.string)),
                "streaming": true,
            ],
            "limits": [
                "max_line_bytes": .number(JSONNumber(options.maxLineBytes)),
                "max_items_per_batch": .number(JSONNumber(options.maxItemsPerBatch)),
                "max_concurrency": .number(JSONNumber(BatchOptions.maxConcurrency)),
            ],
        ]
        if let connection { result["connection"] = .number(JSONNumber(connection.id)) }
        if !warnings.isEmpty { result["warnings"] = warned(warnings) }
        return .object(result)
    }

    /// The `stats` result: the engine's, with this host's providers; on a shared sidecar also
    /// this connection's id, every connection, and which connections use each limiter.
    private func statsJSON() -> JSONObject {
        var stats = engine.stats(session: session)
        guard let connection else { return stats.json }
        stats.showsConnections = true
        var object = stats.json
        object["connection"] = .number(JSONNumber(connection.id))
        object["connections"] = connection.connections()
        return object
    }

    /// Logs the configuration now in force (names and default; never keys).
    private func logConfiguration(_ method: String, _ set: ProviderSet) {
        logger.info("providers configured", metadata: [
            "by": "\(method)", "providers": "\(set.providers.keys.sorted().joined(separator: ","))",
            "default_provider": "\(set.defaultName ?? "none")",
        ])
    }

    /// Logs each configuration warning and returns them for the result's `warnings`.
    private func warned(_ warnings: [String]) -> JSONValue {
        for warning in warnings { logger.warning("\(warning)") }
        return .array(warnings.map(JSONValue.string))
    }

    /// `environment` (an object of strings), if given.
    private static func environment(_ p: Params, method: String) throws(RPCError) -> [String: String]? {
        guard let value = p.value("environment") else { return nil }
        guard case .object(let object) = value else {
            throw .invalidParams("\(method): `environment` must be an object of strings")
        }
        var environment: [String: String] = [:]
        for (name, variable) in object {
            guard let string = variable.stringValue else {
                throw .invalidParams("\(method): environment.\(name) must be a string")
            }
            environment[name] = string
        }
        return environment
    }

    private func configure(_ params: JSONValue?, method: String) throws(RPCError) -> JSONValue {
        let p = try Params(params, method: method, allowed: ["providers", "default_provider", "environment"])
        let defaultProvider = try p.string("default_provider")
        let environment = try Self.environment(p, method: method) ?? [:]
        let warnings: [String]
        do {
            warnings = try session.configure(providers: p.value("providers"), defaultProvider: defaultProvider,
                                             environment: environment)
        } catch {
            throw .invalidParams("configure: \(error.message)")
        }
        let set = session.providerSet
        logConfiguration(method, set)
        var result: JSONObject = [
            "providers": .array(set.providers.keys.sorted().map(JSONValue.string)),
            "default_provider": set.defaultName.map(JSONValue.string) ?? .null,
        ]
        if !warnings.isEmpty { result["warnings"] = warned(warnings) }
        return .object(result)
    }

    private func cancel(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        let p = try Params(params, method: "cancel", allowed: ["id"])
        guard let raw = p.object["id"], let id = RPCID(raw) else {
            throw .invalidParams("cancel: `id` (a string or number) is required")
        }
        return ["cancelled": .bool(registry.cancel(id))]
    }

    // MARK: - Batches and call

    /// Runs a gather, as_completed or call; `release` frees its id right before the answer goes
    /// out (see ``RequestRegistry``).
    func handleCancellable(_ method: RPCMethod.Cancellable, _ params: consuming JSONValue?, _ responder: RPCResponder, release: () -> Void) async {
        let reply: Result<[UInt8], RPCError>
        do throws(RPCError) {
            switch method {
            case .call:
                reply = .success(RPCEncoder.response(id: responder.id, result: try await call(params, id: responder.id)))
            case .gather, .asCompleted:
                let streaming = method == .asCompleted
                // The params tree ends with `prepareBatch`: from here on only the prepared items
                // hold item bodies, and `Engine.run` lets each go when it is done.
                let (items, options) = try prepareBatch(consume params, method: method.rawValue)
                reply = .success(try await batch(consume items, options, id: responder.id, streaming: streaming))
            }
        } catch {
            reply = .failure(error)
        }
        release()
        switch reply {
        case .success(let response): responder.respond(encodedResponse: response)
        case .failure(let error): responder.respond(error: error)
        }
    }

    /// A gather's or as_completed's items and options, read from its params.
    private func prepareBatch(_ params: consuming JSONValue?, method: String) throws(RPCError) -> ([PreparedItem], BatchOptions) {
        let p = try Params(params, method: method, allowed: ["requests", "concurrency", "timeout", "fail_fast", "priority", "progress", "max_cost_usd"])
        guard let requests = p.value("requests")?.arrayValue else {
            throw .invalidParams("\(method): `requests` (an array of items) is required")
        }
        guard !requests.isEmpty, requests.count <= options.maxItemsPerBatch else {
            throw .invalidParams("\(method): `requests` must hold 1 to \(options.maxItemsPerBatch) items (got \(requests.count))")
        }
        var batchOptions = BatchOptions()
        if let concurrency = try p.int("concurrency", 1...BatchOptions.maxConcurrency) { batchOptions.concurrency = concurrency }
        batchOptions.timeoutSeconds = try p.positiveSeconds("timeout")
        batchOptions.failFast = try p.bool("fail_fast") ?? false
        batchOptions.progress = try p.bool("progress") ?? false
        if let budget = p.value("max_cost_usd"), !budget.isNull {
            guard let dollars = budget.doubleValue, dollars >= 0, dollars.isFinite else {
                throw .invalidParams("\(method): `max_cost_usd` must be a number of dollars, 0 or more")
            }
            batchOptions.maxCostUSD = dollars
        }
        if let priority = try p.string("priority") {
            guard let parsed = Priority(rawValue: priority) else {
                throw .invalidParams("\(method): `priority` must be \"interactive\" or \"background\"")
            }
            batchOptions.priority = parsed
        }
        if engine.itemsPending + requests.count > options.maxPendingItems {
            throw RPCError.overloaded(retryAfterMs: 1000)
        }
        switch session.prepare(requests) {
        case .success(let prepared): return (prepared, batchOptions)
        case .failure(let rejection):
            throw RPCError(code: .invalidParams, message: rejection.message, data: ["index": .number(JSONNumber(rejection.index))])
        }
    }

    /// Runs a gather or as_completed; returns its whole response (`as_completed` sends each
    /// outcome as an `item` notification, and answers with the stats).
    private func batch(_ items: consuming [PreparedItem], _ batchOptions: BatchOptions, id: RPCID, streaming: Bool) async throws(RPCError) -> [UInt8] {
        let requestID = id.jsonValue
        let collector = streaming ? nil : OutcomeCollector(count: items.count, id: id)
        @Sendable func sendProgress(_ progress: BatchProgress) {
            let params: JSONValue = [
                "request": requestID,
                "done": .number(JSONNumber(progress.done)),
                "failed": .number(JSONNumber(progress.failed)),
                "total": .number(JSONNumber(progress.total)),
            ]
            send(RPCEncoder.notification(method: "progress", params: params))
        }
        let progress: (@Sendable (BatchProgress) -> Void)? = batchOptions.progress ? sendProgress : nil
        let deltas = deltaWriter(for: requestID)
        let summary = await engine.run(consume items, options: batchOptions, session: session, onOutcome: { outcome in
            deltas.flush(outcome.index)
            if let collector {
                collector.store(outcome)
            } else {
                // {"request":ID,...outcome members}, written without building a tree.
                var params: [UInt8] = []
                params.reserveCapacity(320)
                params.append(contentsOf: #"{"request":"#.utf8)
                requestID.write(into: &params)
                params.append(UInt8(ascii: ","))
                outcome.writeMembers(into: &params)
                params.append(UInt8(ascii: "}"))
                self.send(RPCEncoder.notification(method: "item", encodedParams: params))
            }
        }, onProgress: progress, onStream: deltas.handle)

        if summary.stop == nil {
            // The common case, and the big one: the reply was written as the outcomes came.
            return collector?.response(stats: summary.json)
                ?? RPCEncoder.response(id: id, result: ["results": .array([]), "stats": summary.json])
        }
        let results: JSONValue = .array(collector?.ordered() ?? [])
        switch summary.stop {
        case .failFast(let first)?:
            let error = first.error ?? ItemError(.http, "failed")
            throw RPCError(code: .requestFailed, message: "item \(first.index) failed: \(error.message)", data: [
                "index": .number(JSONNumber(first.index)), "error": error.json, "results": results, "stats": summary.json,
            ])
        case .cancelled?:
            throw RPCError.requestCancelled(data: ["results": results, "stats": summary.json])
        case nil:
            return RPCEncoder.response(id: id, result: ["results": results, "stats": summary.json])
        }
    }

    /// The `delta` and `reset` notifications of request `id`.
    private func deltaWriter(for id: JSONValue) -> DeltaWriter {
        DeltaWriter(request: id, queued: { [weak self] in self?.outboundBytes ?? 0 }, send: { [weak self] in self?.send($0) })
    }

    /// The result of a call: the item's value.
    private func call(_ params: JSONValue?, id: RPCID) async throws(RPCError) -> JSONValue {
        let value = params ?? .object([:])
        guard case .object = value else { throw .invalidParams("call takes one item object as params") }
        if case .failure(let error) = Item.parse(value) {
            throw .invalidParams("call: \(error.message)")
        }
        let items: [PreparedItem]
        switch session.prepare([value]) {
        case .success(let prepared): items = prepared
        case .failure(let rejection): throw .invalidParams(rejection.message.replacingPrefix("requests[0]: ", with: "call: "))
        }
        let only = Handoff<Outcome>()
        let deltas = deltaWriter(for: id.jsonValue)
        _ = await engine.run(items, options: BatchOptions(concurrency: 1), session: session, onOutcome: { outcome in
            deltas.flush(outcome.index)
            only.put(outcome)
        }, onStream: deltas.handle)
        guard let outcome = only.take() else { throw .internalError("call produced no outcome") }
        switch outcome.result {
        case .success(let value):
            // A call has no outcome: its cost (and a streamed call's time to first token) ride
            // along in the value (Volley).
            guard case .object(var object) = value.json else { return value.json }
            object["cost_usd"] = outcome.costUSD.flatMap { JSONNumber(($0 * 100_000_000).rounded() / 100_000_000) }.map(JSONValue.number) ?? .null
            if let ttftMs = outcome.ttftMs, let number = JSONNumber((ttftMs * 10).rounded() / 10) { object["ttft_ms"] = .number(number) }
            return .object(object)
        case .failure(let error) where error.kind == .cancelled:
            throw .requestCancelled(data: ["error": error.json])
        case .failure(let error):
            // The outcome's error object, plus (a Volley addition) how many attempts it took.
            var data = error.json
            if case .object(var object) = data {
                object["attempts"] = .number(JSONNumber(outcome.attempts))
                data = .object(object)
            }
            throw .requestFailed(error.message, data: data)
        }
    }

    private func handleExitRequest() {
        handleNotificationExit()
    }
}

extension String {
    func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
