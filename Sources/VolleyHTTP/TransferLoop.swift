import CCurl

/// The transport thread's state: the multi handle, the admission gate, and every transfer
/// that is waiting or running. Used only on that thread.
///
/// The loop drives libcurl with `curl_multi_socket_action` over its own `EventSelector`
/// (epoll): libcurl says which sockets it wants to hear about (socket callback, kept in
/// `SocketTable`) and when it next needs time (timer callback), and each wake hands libcurl
/// only the sockets that are ready. Work per wake follows activity, not the number of
/// transfers: `curl_multi_perform` + `curl_multi_poll` visit every transfer on every wake, and
/// at 2,000 in flight (bench W3) this loop spends ~18% less CPU per request than that one did.
final class TransferLoop {
    private struct Waiting {
        var request: HTTPRequest
        var sink: TransferSink
        var origin: Origin
    }

    private let shared: LoopShared
    private let multi: UnsafeMutableRawPointer
    private let selector: EventSelector
    private let configuration: HTTPClientConfiguration
    private var gate: OriginGate
    private var waiting: [UInt64: Waiting] = [:]
    private var live: [UInt64: Transfer] = [:]
    private var shuttingDown = false
    private var easyPool = EasyPool(capacity: 256)
    private var headerLists = HeaderListCache()
    private let heads = HeadLog()
    private var origins = OriginCache()
    /// What the loop knows of each file descriptor libcurl uses.
    private var sockets: SocketTable
    /// When libcurl next wants `CURL_SOCKET_TIMEOUT`, in monotonic milliseconds.
    private var timerDeadline: Int64?

    /// Runs Swift jobs queued for `HTTPClient.executor` (see `runJobs`).
    private let executor: UnownedTaskExecutor

    /// - Parameter selector: this loop's alone (`shared` holds only its waker); the loop
    ///   closes it at the end.
    init(shared: LoopShared, multi: MultiHandle, selector: EventSelector, executor: TransportExecutor, configuration: HTTPClientConfiguration) {
        self.shared = shared
        self.executor = executor.asUnownedTaskExecutor()
        self.multi = multi.pointer
        self.selector = selector
        self.sockets = SocketTable(selector: selector)
        self.configuration = configuration
        self.gate = OriginGate(
            maxConnectionsPerHost: configuration.maxConnectionsPerHost,
            maxConcurrentStreams: configuration.maxConcurrentStreams
        )
    }

    /// Runs until a shutdown command; then fails what is left and frees the multi handle.
    func run() {
        // The callbacks get this loop as an unretained pointer: it outlives the multi handle,
        // which is cleaned up at the end of this method.
        let opaque = Unmanaged.passUnretained(self).toOpaque()
        easyPool.socketOwner = opaque
        if let setupError = CurlCallbacks.install(on: multi, loop: opaque) {
            // Nothing can run: every request fails with the reason until shutdown.
            runBroken(HTTPClientError(.other, setupError))
            teardown()
            return
        }
        var ready = EventSelector.ReadyEvents()
        var jobs: [UnownedJob] = []
        var commands: [LoopCommand] = []
        while true {
            runJobs(&jobs)
            shared.takeCommands(into: &commands)
            for command in commands { handle(command) }
            commands.removeAll(keepingCapacity: true)
            if shuttingDown { break }
            startAdmitted()
            // Block only when nothing is queued (jobs, commands, admissions); from here until
            // `awake()` a producer wakes us through the eventfd.
            let mayBlock = !gate.hasReady && shared.prepareToSleep()
            let timeout = mayBlock ? waitMilliseconds() : 0
            let waited = selector.wait(into: &ready, timeoutMilliseconds: timeout)
            if mayBlock { shared.awake() }
            shared.loopWakeups.add(1, ordering: .relaxed)
            if !waited {
                // Only a broken epoll descriptor fails here; fail what runs rather than spin.
                failAllLive(HTTPClientError(.other, "epoll_wait failed"))
                runBroken(HTTPClientError(.other, "epoll_wait failed"))
                break
            }
            for index in 0..<ready.count {
                let fd = ready.fd(at: index)
                if selector.isWakeup(fd) {
                    selector.drainWakeup()
                    continue
                }
                if sockets.unparkIfParked(fd) { continue }
                act(on: fd, ready: ready.interest(at: index))
            }
            if let deadline = timerDeadline, EventSelector.nowMilliseconds() >= deadline {
                timerDeadline = nil
                act(on: CURL_SOCKET_TIMEOUT, mask: 0)
            }
            learnProtocols()
            // Transfers that ended freed room: add the next ones now. A newly added handle
            // sets libcurl's timer to zero, so the next wait returns at once and starts it.
            if drainMessages() > 0 { startAdmitted() }
        }
        teardown()
    }

    /// Runs the Swift jobs queued for the transport executor (those queued while they run
    /// wait for the next round, after the sockets have had their turn).
    private func runJobs(_ jobs: inout [UnownedJob]) {
        shared.takeJobs(into: &jobs)
        guard !jobs.isEmpty else { return }
        for job in jobs { job.runSynchronously(on: executor) }
        jobs.removeAll(keepingCapacity: true)
    }

    /// Milliseconds until libcurl's timer is due: 0 when due, -1 (wait for an event or a
    /// wakeup) when it set none.
    private func waitMilliseconds() -> Int32 {
        guard let deadline = timerDeadline else { return -1 }
        let remaining = deadline - EventSelector.nowMilliseconds()
        return Int32(clamping: max(0, remaining))
    }

    /// Tells libcurl what the selector saw on `fd`.
    private func act(on fd: Int32, ready: EventSelector.Interest) {
        var mask: Int32 = 0
        if ready.contains(.readable) { mask |= CURL_CSELECT_IN }
        if ready.contains(.writable) { mask |= CURL_CSELECT_OUT }
        act(on: fd, mask: mask)
    }

    private func act(on fd: Int32, mask: Int32) {
        var running: Int32 = 0
        let code = curl_multi_socket_action(multi, fd, mask, &running)
        if code != CURLM_OK {
            failAllLive(HTTPClientError(.other, "curl_multi_socket_action failed: \(String(cString: curl_multi_strerror(code)))"))
        }
    }

    // MARK: - From libcurl's callbacks (`CurlCallbacks`)

    /// libcurl wants `what` (CURL_POLL_IN / OUT / INOUT / REMOVE) on `fd`.
    func watch(_ fd: Int32, _ what: Int32) {
        sockets.watch(fd, what)
    }

    /// libcurl opened `fd` for a connection (open-socket callback).
    func opened(_ fd: Int32) {
        sockets.opened(fd)
    }

    /// libcurl closes `fd` (close-socket callback).
    func closing(_ fd: Int32) {
        sockets.closing(fd)
    }

    /// libcurl wants `CURL_SOCKET_TIMEOUT` after `milliseconds` (-1: cancel the timer).
    func setTimer(_ milliseconds: Int) {
        timerDeadline = milliseconds < 0 ? nil : EventSelector.nowMilliseconds() + Int64(milliseconds)
    }

    /// When the loop cannot work at all: fail every request until shutdown.
    private func runBroken(_ error: HTTPClientError) {
        failAllLive(error)
        for (_, entry) in waiting { entry.sink.fail(error) }
        waiting.removeAll()
        shared.transfersWaiting.store(0, ordering: .relaxed)
        var jobs: [UnownedJob] = []
        var commands: [LoopCommand] = []
        var ready = EventSelector.ReadyEvents()
        while !shuttingDown {
            runJobs(&jobs)
            shared.takeCommands(into: &commands)
            for command in commands {
                switch command {
                case .start(_, _, let sink): sink.fail(error)
                case .cancel: break
                case .shutdown: shuttingDown = true
                }
            }
            commands.removeAll(keepingCapacity: true)
            if !shuttingDown {
                let timeout: Int32 = shared.prepareToSleep() ? 1000 : 0
                if selector.wait(into: &ready, timeoutMilliseconds: timeout) {
                    for index in 0..<ready.count where selector.isWakeup(ready.fd(at: index)) {
                        selector.drainWakeup()
                    }
                }
                if timeout != 0 { shared.awake() }
            }
        }
    }

    // MARK: - Commands

    private func handle(_ command: LoopCommand) {
        switch command {
        case .start(let id, let request, let sink):
            guard let origin = origins.origin(of: request.url) else {
                sink.fail(HTTPClientError(.invalidRequest, "not an absolute http(s) URL"))
                return
            }
            waiting[id] = Waiting(request: request, sink: sink, origin: origin)
            gate.enqueue(id: id, origin: origin.key, isTLS: origin.isTLS)
            shared.transfersWaiting.add(1, ordering: .relaxed)
        case .cancel(let id):
            let error = HTTPClientError(.cancelled, "the transfer was cancelled")
            if gate.cancelWaiting(id: id), let entry = waiting.removeValue(forKey: id) {
                shared.transfersWaiting.subtract(1, ordering: .relaxed)
                entry.sink.fail(error)
            } else if let transfer = live[id] {
                end(transfer, with: .failure(error))
            }
        case .shutdown:
            shuttingDown = true
        }
    }

    // MARK: - Admission

    private func startAdmitted() {
        // A few dozen at a time: a batch that starts 500 transfers at once would otherwise set
        // up every connection before the first request is sent (the first of 500 answers came
        // back 40 ms later than with this limit). The loop comes back for the rest at once.
        for admission in gate.admit(limit: Self.admissionsPerRound) {
            guard let entry = waiting.removeValue(forKey: admission.id) else { continue }
            shared.transfersWaiting.subtract(1, ordering: .relaxed)
            let transfer = Transfer(
                id: admission.id,
                origin: entry.origin,
                sink: entry.sink,
                timeoutSeconds: entry.request.timeoutSeconds,
                stallSeconds: EasySetup.stallSeconds(of: entry.request),
                heads: heads,
                maxResponseBytes: configuration.maxResponseBytes,
                requestBodyBytes: entry.request.body?.count ?? 0
            )
            do {
                try configure(transfer, request: entry.request, pipeWait: admission.pipeWait)
            } catch {
                release(transfer, reusable: false)
                gate.finished(origin: transfer.origin.key)
                transfer.sink.fail(error)
                continue
            }
            live[transfer.id] = transfer
            shared.transfersRunning.add(1, ordering: .relaxed)
        }
    }

    private func configure(_ transfer: Transfer, request: HTTPRequest, pipeWait: Bool) throws(HTTPClientError) {
        let handle = try easyPool.take { shared.easyHandlesCreated.add(1, ordering: .relaxed) }
        transfer.easy = handle
        let list = headerLists.list(for: request.headers)
        transfer.headerList = list
        try EasySetup.setRequest(request, on: handle, for: transfer, headerList: list, pipeWait: pipeWait,
                                 userAgent: configuration.userAgent)
        let added = curl_multi_add_handle(multi, handle.pointer)
        guard added == CURLM_OK else {
            throw HTTPClientError(.other, "curl_multi_add_handle: \(String(cString: curl_multi_strerror(added)))")
        }
    }

    private static let admissionsPerRound = 64

    // MARK: - Completion

    /// Tells the gate what protocol each newly answered origin speaks.
    private func learnProtocols() {
        guard !heads.transfers.isEmpty else { return }
        for transfer in heads.transfers {
            switch transfer.version {
            case .http2: gate.learned(origin: transfer.origin.key, isHTTP2: true)
            case .http1_0, .http1_1: gate.learned(origin: transfer.origin.key, isHTTP2: false)
            case .http3, .unknown: break
            }
        }
        heads.transfers.removeAll(keepingCapacity: true)
    }

    /// Ends every transfer libcurl reports done. Returns how many ended.
    private func drainMessages() -> Int {
        var ended = 0
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            var opaque: UnsafeMutableRawPointer?
            guard volley_easy_getinfo_ptr(easy, CURLINFO_PRIVATE, &opaque) == CURLE_OK, let opaque else { continue }
            let transfer = Unmanaged<Transfer>.fromOpaque(opaque).takeUnretainedValue()
            var code = volley_msg_result(message)
            // A server may send its whole answer before it has read the whole request and end
            // the stream (RFC 9113 §8.1); libcurl 7.88 then fails the transfer when it goes on
            // to send the body. The answer stands (see TransferFailure.isUnsentRequest).
            // Its handle is freed, not pooled: libcurl ended it with an error.
            if code == CURLE_HTTP2_STREAM, transfer.hasCompleteResponse {
                code = CURLE_OK
                transfer.handleIsSpecial = true
            }
            end(transfer, with: code == CURLE_OK ? .success(()) : .failure(transfer.failure(code)))
            ended += 1
        }
        return ended
    }

    /// Removes `transfer` from libcurl and the tables and resumes its caller exactly once.
    private func end(_ transfer: Transfer, with result: Result<Void, HTTPClientError>) {
        guard live.removeValue(forKey: transfer.id) != nil else { return }
        shared.transfersRunning.subtract(1, ordering: .relaxed)
        let info = transfer.easy?.transferInfo() ?? .empty
        var succeeded = false
        if case .success = result { succeeded = true }
        release(transfer, reusable: succeeded)
        gate.finished(origin: transfer.origin.key)
        shared.transfersCompleted.add(1, ordering: .relaxed)
        if info.connectionReused {
            shared.transfersOnReusedConnections.add(1, ordering: .relaxed)
        } else if transfer.head != nil {
            // A new connection that got as far as a response.
            shared.connectionsOpened.add(1, ordering: .relaxed)
        }
        switch result {
        case .failure(let error): transfer.sink.fail(error)
        case .success: transfer.succeed(info: info)
        }
    }

    /// Takes `transfer`'s handle out of libcurl and back to the pool. Only handles of
    /// transfers that succeeded are reused: a failed one may have been aborted mid-way.
    private func release(_ transfer: Transfer, reusable: Bool) {
        if let handle = transfer.easy {
            // Removing a handle that was added cannot fail for a valid multi handle; a handle
            // that never got added returns CURLM_BAD_EASY_HANDLE, which is expected here.
            _ = curl_multi_remove_handle(multi, handle.pointer)
            easyPool.give(handle, reusable: reusable && !transfer.handleIsSpecial)
            transfer.easy = nil
        }
        // The list may be shared with other transfers (and the cache): dropping our
        // reference frees it only when it was the last.
        transfer.headerList = nil
    }

    // MARK: - Shutdown

    private func failAllLive(_ error: HTTPClientError) {
        for transfer in Array(live.values) { end(transfer, with: .failure(error)) }
    }

    private func teardown() {
        let error = HTTPClientError(.shutdown, "the HTTP client was shut down")
        // Commands that raced with shutdown (the inbox is closed now, so this is the last lot).
        var commands: [LoopCommand] = []
        shared.takeCommands(into: &commands)
        for command in commands {
            if case .start(_, _, let sink) = command { sink.fail(error) }
        }
        for (_, entry) in waiting { entry.sink.fail(error) }
        waiting.removeAll()
        shared.transfersWaiting.store(0, ordering: .relaxed)
        failAllLive(error)
        easyPool.removeAll()
        curl_multi_cleanup(multi)
        // The inbox is closed (shutdown closes it first), so nobody writes the eventfd now,
        // and jobs go to the global executor from now on: hand it the ones left.
        for job in shared.takeRemainingJobs() { globalConcurrentExecutor.enqueue(job) }
        selector.close()
        shared.markStopped()
    }
}
