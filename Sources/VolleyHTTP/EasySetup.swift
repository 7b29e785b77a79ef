import CCurl

/// Every option the transport sets on a libcurl easy handle, in one place: the ones all
/// transfers share (set once, when `EasyPool` makes the handle: protocols, callbacks, the
/// receive buffer, socket ownership) and the ones each transfer sets for its request.
///
/// Handles are reused without `curl_easy_reset` (see `EasyPool`), so `setRequest` sets every
/// per-transfer option on every transfer, to its value or to its default: nothing may leak
/// from one transfer to the next. A new per-transfer option belongs there, with its default.
enum EasySetup {
    /// Sets the options every transfer shares on a new handle. Returns the first option
    /// libcurl refused, if any (the caller frees the handle).
    /// - Parameter socketOwner: the transport loop, passed to the open- and close-socket
    ///   callbacks; it outlives every handle.
    static func setShared(on handle: EasyHandle, socketOwner: UnsafeMutableRawPointer?) -> EasyOptions.Failure? {
        var options = EasyOptions(easy: handle.pointer)
        options.set(CURLOPT_PROTOCOLS_STR, "http,https")
        options.set(CURLOPT_NOSIGNAL, 1)
        options.set(CURLOPT_ERRORBUFFER, pointer: UnsafeRawPointer(handle.errorBuffer))
        options.set(CURLOPT_HEADERFUNCTION, callback: CurlCallbacks.header)
        options.set(CURLOPT_WRITEFUNCTION, callback: CurlCallbacks.write)
        options.set(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
        options.set(CURLOPT_TCP_KEEPALIVE, 1)
        options.set(CURLOPT_BUFFERSIZE, EasyPool.receiveBufferBytes)
        options.set(CURLOPT_OPENSOCKETFUNCTION, openSocket: CurlCallbacks.openSocket)
        options.set(CURLOPT_OPENSOCKETDATA, pointer: socketOwner)
        options.set(CURLOPT_CLOSESOCKETFUNCTION, closeSocket: CurlCallbacks.closeSocket)
        options.set(CURLOPT_CLOSESOCKETDATA, pointer: socketOwner)
        // A transfer that ends while its name is still being resolved (its connect timeout,
        // a cancel) must not stop the transport thread: libcurl's threaded resolver otherwise
        // joins its thread there, waiting for getaddrinfo to return (5 s per try with glibc's
        // defaults, forever for a resolver that hangs) while no other transfer moves. With
        // QUICK_EXIT the resolver thread is detached and frees itself when getaddrinfo returns.
        // libcurl 7.87+; an older one waits as before.
        options.setIfKnown(CURLOPT_QUICK_EXIT, 1)
        return options.failure
    }

    /// Sets every per-transfer option on `handle` for `request`, and wires the callbacks to
    /// `transfer` (which must stay alive until the handle leaves the multi handle).
    /// - Parameters:
    ///   - headerList: the request's headers as libcurl sends them; the caller keeps it
    ///     alive with the transfer (libcurl does not copy it).
    ///   - pipeWait: wait for a connection that may multiplex rather than open another.
    ///   - userAgent: sent unless the request's headers name their own.
    /// - Throws: `.invalidRequest` with the first option libcurl refused.
    static func setRequest(
        _ request: HTTPRequest, on handle: EasyHandle, for transfer: Transfer,
        headerList: HeaderList, pipeWait: Bool, userAgent: String
    ) throws(HTTPClientError) {
        var options = EasyOptions(easy: handle.pointer)
        let opaque = Unmanaged.passUnretained(transfer).toOpaque()
        options.set(CURLOPT_URL, request.url)
        options.set(CURLOPT_PRIVATE, pointer: opaque)
        options.set(CURLOPT_HEADERDATA, pointer: opaque)
        options.set(CURLOPT_WRITEDATA, pointer: opaque)
        options.set(CURLOPT_PIPEWAIT, pipeWait ? 1 : 0)
        // Set either way: the handle may come from the pool with the last request's value.
        options.set(CURLOPT_FRESH_CONNECT, request.freshConnection ? 1 : 0)
        options.set(CURLOPT_CONNECTTIMEOUT_MS, milliseconds(request.connectTimeoutSeconds))
        options.set(CURLOPT_TIMEOUT_MS, request.timeoutSeconds.map(milliseconds) ?? 0)
        if let stallSeconds = stallSeconds(of: request) {
            options.set(CURLOPT_LOW_SPEED_TIME, stallSeconds)
            options.set(CURLOPT_LOW_SPEED_LIMIT, max(1, request.stallMinimumBytesPerSecond))
        } else {
            options.set(CURLOPT_LOW_SPEED_TIME, 0)
            options.set(CURLOPT_LOW_SPEED_LIMIT, 0)
        }
        if let caFile = request.caFile {
            options.set(CURLOPT_CAINFO, caFile)
            transfer.handleIsSpecial = true
        }
        let method = request.method.uppercased()
        let sendsBody = method == "POST" || request.body != nil
        if sendsBody {
            options.set(CURLOPT_POST, 1)
            let body = request.body ?? []
            options.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: Int64(body.count))
            // COPYPOSTFIELDS copies the bytes (none for an empty body), so the array need not
            // outlive this call. A POST without a body sends an empty one, never stdin.
            body.withUnsafeBytes { raw in
                options.set(CURLOPT_COPYPOSTFIELDS, pointer: raw.baseAddress ?? UnsafeRawPointer(handle.errorBuffer))
            }
        } else {
            options.set(CURLOPT_HTTPGET, 1)
        }
        if method == (sendsBody ? "POST" : "GET") {
            options.set(CURLOPT_CUSTOMREQUEST, pointer: nil)
        } else {
            options.set(CURLOPT_CUSTOMREQUEST, method)
        }
        options.set(CURLOPT_HTTPHEADER, pointer: UnsafeRawPointer(headerList.pointer))
        if headerList.setsUserAgent {
            options.set(CURLOPT_USERAGENT, pointer: nil)
        } else {
            options.set(CURLOPT_USERAGENT, userAgent)
        }
        if let failure = options.failure {
            throw HTTPClientError(.invalidRequest, failure.message, curlCode: failure.code)
        }
    }

    /// The low-speed window `setRequest` sets for `request` (`CURLOPT_LOW_SPEED_TIME`, at
    /// least 1 s), in seconds; nil when stall detection is off.
    static func stallSeconds(of request: HTTPRequest) -> Int? {
        request.stallSeconds.map { max(1, $0) }
    }

    /// A libcurl timeout in whole milliseconds, rounded up and at least 1 (0 would mean none).
    private static func milliseconds(_ seconds: Double) -> Int {
        guard seconds.isFinite, seconds > 0 else { return 1 }
        return max(1, Int((seconds * 1000).rounded(.up)))
    }
}
