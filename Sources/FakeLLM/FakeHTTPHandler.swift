import NIOCore
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// One connection's HTTP/1.1 server: reads each request, asks `RequestPlanner` for a plan and
/// carries it out with event-loop timers (never a blocking sleep).
///
/// `HTTPServerPipelineHandler` sits before it, so requests arrive one at a time even when a
/// client pipelines. A non-streamed response (head and body) goes out in one flush, which NIO
/// writes with one `writev`, so there is no Nagle / delayed-ACK stall.
final class FakeHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The request being answered.
    private struct Active {
        var plan: ResponsePlan
        var path: String
        var receivedAt: Double
        var keepAlive: Bool
        var version: HTTPVersion
        var statusSent: Int?
        var nextEvent = 0
    }

    private let core: ServerCore
    private let planner: RequestPlanner
    private var connectionID = 0
    private var requestHead: HTTPRequestHead?
    private var requestBody: ByteBuffer?
    private var bodyTooLarge = false
    private var active: Active?
    /// The one pending timer (latency, or the gap before the next SSE event).
    private var scheduled: Scheduled<Void>?
    /// True from writing a response's `.end` until that write completes.
    private var endWritePending = false
    /// A pipelined request that arrived while `endWritePending`; handled once the write is done,
    /// so one connection never has two requests in flight.
    private var deferredRequest: (head: HTTPRequestHead, body: [UInt8], tooLarge: Bool)?
    /// False once `channelInactive` ran: nothing new starts on a closed connection.
    private var isOpen = true

    init(core: ServerCore) {
        self.core = core
        self.planner = RequestPlanner(core: core)
    }

    // MARK: Connection lifecycle

    func channelActive(context: ChannelHandlerContext) {
        connectionID = core.connectionOpened()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        isOpen = false
        deferredRequest = nil
        scheduled?.cancel()
        scheduled = nil
        if let request = active {
            // The client went away before the response was fully written.
            active = nil
            finish(request, completed: false, clientDisconnected: true)
        }
        core.connectionClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Resets by the client, parse errors after the 400 already sent: the connection is done.
        context.close(promise: nil)
    }

    // MARK: Reading requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            requestHead = head
            requestBody = nil
            bodyTooLarge = false
            if head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                let interim = HTTPResponseHead(version: head.version, status: .continue)
                context.writeAndFlush(wrapOutboundOut(.head(interim)), promise: nil)
            }
        case .body(var chunk):
            guard !bodyTooLarge else { return }
            if (requestBody?.readableBytes ?? 0) + chunk.readableBytes > RequestPlanner.maxBodyBytes {
                bodyTooLarge = true
                requestBody = nil
            } else if requestBody == nil {
                requestBody = chunk
            } else {
                requestBody?.writeBuffer(&chunk)
            }
        case .end:
            guard let head = requestHead else { return }
            requestHead = nil
            let body = requestBody.map { Array($0.readableBytesView) } ?? []
            requestBody = nil
            if endWritePending {
                deferredRequest = (head, body, bodyTooLarge)
            } else {
                handle(head, body: body, bodyTooLarge: bodyTooLarge, context: context)
            }
        }
    }

    private func handle(_ head: HTTPRequestHead, body: [UInt8], bodyTooLarge: Bool, context: ChannelHandlerContext) {
        let input = RequestPlanner.Input(
            method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
            body: body, bodyTooLarge: bodyTooLarge)
        let receivedAt = core.now()
        let plan = planner.plan(input)
        if plan.tracked { core.requestStarted() }
        var keepAlive = head.isKeepAlive
        if case .events = plan.body, head.version.major == 1, head.version.minor == 0 {
            keepAlive = false  // no chunked encoding in HTTP/1.0: the stream ends with the connection
        }
        active = Active(
            plan: plan, path: String(head.uri.prefix(while: { $0 != "?" })), receivedAt: receivedAt,
            keepAlive: keepAlive, version: head.version)

        switch (plan.delivery, plan.body) {
        case (.never, _):
            return  // read, never answered; channelInactive ends it
        case (.garbageChunked, _), (.truncatedChunked, _):
            if plan.delayMilliseconds > 0 {
                schedule(afterMilliseconds: plan.delayMilliseconds, context: context) { $0.sendBrokenChunked(context: $1) }
            } else {
                sendBrokenChunked(context: context)
            }
        case (_, .events):
            writeHead(context: context, contentLength: nil)
            if plan.delayMilliseconds > 0 {
                context.flush()
                schedule(afterMilliseconds: plan.delayMilliseconds, context: context) { $0.sendEvents(context: $1) }
            } else {
                sendEvents(context: context)
            }
        case (_, .full):
            if plan.delayMilliseconds > 0 {
                schedule(afterMilliseconds: plan.delayMilliseconds, context: context) { $0.sendFull(context: $1) }
            } else {
                sendFull(context: context)
            }
        }
    }

    // MARK: Writing responses

    private func schedule(
        afterMilliseconds milliseconds: Double, context: ChannelHandlerContext,
        _ action: @escaping (FakeHTTPHandler, ChannelHandlerContext) -> Void
    ) {
        let delay = TimeAmount.nanoseconds(Int64(min(milliseconds, 1e9) * 1_000_000))
        scheduled = context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            self.scheduled = nil
            action(self, context)
        }
    }

    private func writeHead(context: ChannelHandlerContext, contentLength: Int?) {
        guard var request = active else { return }
        var headers = HTTPHeaders(request.plan.headers)
        if let contentLength { headers.replaceOrAdd(name: "content-length", value: String(contentLength)) }
        if !request.keepAlive {
            headers.replaceOrAdd(name: "connection", value: "close")
        } else if request.version.major == 1, request.version.minor == 0 {
            headers.replaceOrAdd(name: "connection", value: "keep-alive")
        }
        let status = request.plan.status
        // NIO has no reason phrase for 529; this is the one Anthropic's edge sends.
        let responseStatus =
            status == 529
            ? HTTPResponseStatus(statusCode: 529, reasonPhrase: "Site is overloaded") : HTTPResponseStatus(statusCode: status)
        let head = HTTPResponseHead(version: request.version, status: responseStatus, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        request.statusSent = status
        active = request
        if request.plan.tracked {
            let usage = request.plan.isModelReply && status == 200
                ? (input: request.plan.inputTokens, output: request.plan.outputTokens) : nil
            core.headSent(status: status, replyTokens: usage)
        }
    }

    private func sendFull(context: ChannelHandlerContext) {
        guard let request = active, case .full(let bytes) = request.plan.body else { return }
        writeHead(context: context, contentLength: bytes.count)
        switch request.plan.delivery {
        case .complete, .partialThenEnd, .never, .garbageChunked, .truncatedChunked:
            writeBody(bytes, context: context)
            end(context: context)
        case .partialThenReset:
            writeBody(ResponsePlan.partial(of: bytes), context: context)
            abortAfterFlush(context: context)
        case .partialThenStall:
            writeBody(ResponsePlan.partial(of: bytes), context: context)
            context.flush()
        }
    }

    private func writeBody(_ bytes: [UInt8], context: ChannelHandlerContext) {
        guard !bytes.isEmpty else { return }
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
    }

    /// Writes SSE events: all at once without `chunk_delay_ms`, else one per timer tick.
    private func sendEvents(context: ChannelHandlerContext) {
        guard var request = active, case .events(let events) = request.plan.body else { return }
        let limit = request.plan.delivery == .complete ? events.count : ResponsePlan.partialEventCount(of: events.count)
        if request.plan.chunkDelayMilliseconds <= 0 {
            while request.nextEvent < limit {
                writeBody(events[request.nextEvent], context: context)
                request.nextEvent += 1
            }
        } else if request.nextEvent < limit {
            writeBody(events[request.nextEvent], context: context)
            request.nextEvent += 1
        }
        active = request
        if request.nextEvent < limit {
            context.flush()
            schedule(afterMilliseconds: request.plan.chunkDelayMilliseconds, context: context) {
                $0.sendEvents(context: $1)
            }
            return
        }
        switch request.plan.delivery {
        case .complete, .partialThenEnd, .never, .garbageChunked, .truncatedChunked:
            end(context: context)
        case .partialThenReset:
            abortAfterFlush(context: context)
        case .partialThenStall:
            context.flush()
        }
    }

    /// Ends the response. Writing `.end` lets the pipeline handler deliver the next pipelined
    /// request re-entrantly, so that request waits in `deferredRequest` until the write is done.
    private func end(context: ChannelHandlerContext) {
        guard let request = active else { return }
        active = nil
        endWritePending = true
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { result in
            self.endWritePending = false
            switch result {
            case .success: self.finish(request, completed: true, clientDisconnected: false)
            case .failure: self.finish(request, completed: false, clientDisconnected: true)
            }
            if let next = self.deferredRequest, self.isOpen {
                self.deferredRequest = nil
                self.handle(next.head, body: next.body, bodyTooLarge: next.tooLarge, context: context)
            }
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
        if !request.keepAlive { context.close(promise: nil) }
    }

    /// Flushes what was written, then aborts the connection with a TCP RST (`SO_LINGER` 0).
    private func abortAfterFlush(context: ChannelHandlerContext) {
        guard let request = active else { return }
        active = nil
        let flushed = context.eventLoop.makePromise(of: Void.self)
        flushed.futureResult.assumeIsolated().whenComplete { _ in
            self.finish(request, completed: false, clientDisconnected: false)
            let reset = linger(l_onoff: 1, l_linger: 0)
            guard let provider = context.channel as? any SocketOptionProvider else {
                context.close(promise: nil)
                return
            }
            provider.setSoLinger(reset).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer()))), promise: flushed)
    }

    /// Writes the head and a broken chunked body (`BrokenChunkedBody`) as raw bytes, then
    /// closes the connection (FIN). NIO's encoder only ever frames valid chunks, so the bytes are
    /// written from the encoder's own context: they go to the socket without passing through it.
    private func sendBrokenChunked(context: ChannelHandlerContext) {
        guard var request = active else { return }
        active = nil
        let bytes = BrokenChunkedBody.wire(
            status: request.plan.status, headers: request.plan.headers, body: request.plan.body,
            garbage: request.plan.delivery == .garbageChunked)
        request.statusSent = request.plan.status
        if request.plan.tracked {
            let usage = request.plan.isModelReply && request.plan.status == 200
                ? (input: request.plan.inputTokens, output: request.plan.outputTokens) : nil
            core.headSent(status: request.plan.status, replyTokens: usage)
        }
        guard let encoder = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self) else {
            finish(request, completed: false, clientDisconnected: false)
            context.close(promise: nil)
            return
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenComplete { _ in
            self.finish(request, completed: false, clientDisconnected: false)
            context.close(promise: nil)
        }
        encoder.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: bytes)), promise: written)
    }

    private func finish(_ request: Active, completed: Bool, clientDisconnected: Bool) {
        guard request.plan.tracked else { return }
        let record = FakeRequestRecord(
            path: request.path, model: request.plan.model, status: request.statusSent, connectionID: connectionID,
            receivedAt: request.receivedAt, finishedAt: core.now(), inputTokens: request.plan.inputTokens,
            outputTokens: request.statusSent == 200 && request.plan.isModelReply ? request.plan.outputTokens : 0,
            mode: request.plan.mode, clientDisconnected: clientDisconnected)
        core.requestFinished(record, completed: completed, releasingSlot: request.plan.holdsInFlightSlot)
    }
}
