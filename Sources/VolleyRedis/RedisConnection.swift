internal import CHiredis

/// One blocking connection to Redis through hiredis: connect (with AUTH and SELECT from the
/// URL), then one command at a time, each bounded by the timeout. Not thread-safe: one thread
/// owns it (the shared-limits worker; a test's thread). A connection that failed stays failed:
/// make a new one.
public final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>
    public let url: RedisURL

    /// - Throws: `.unavailable` when Redis cannot be reached in `timeoutSeconds`; `.server`
    ///   when it refuses AUTH or SELECT (the message never holds the password).
    public init(_ url: RedisURL, timeoutSeconds: Double = 1) throws(RedisError) {
        self.url = url
        let milliseconds = max(1, Int((timeoutSeconds * 1000).rounded()))
        guard let context = volley_redis_connect(url.host, Int32(url.port), milliseconds) else {
            throw RedisError(.unavailable, "cannot connect to \(url): out of memory")
        }
        if let error = volley_redis_error(context) {
            let message = String(cString: error)
            redisFree(context)
            throw RedisError(.unavailable, "cannot connect to \(url): \(message)")
        }
        self.context = context
        if let password = url.password {
            let reply = try command(url.user.map { ["AUTH", $0, password] } ?? ["AUTH", password])
            if case .error(let message) = reply {
                throw RedisError(.server, "Redis at \(url) refused AUTH: \(message)")
            }
        }
        if url.database != 0, case .error(let message) = try command(["SELECT", String(url.database)]) {
            throw RedisError(.server, "Redis at \(url) refused SELECT \(url.database): \(message)")
        }
    }

    deinit {
        redisFree(context)
    }

    /// Sends one command and returns its reply (an error reply is a value, not a throw).
    /// - Throws: `.unavailable` when the connection broke or the reply did not come in time.
    /// Sends several commands in one write and reads their replies in order: one round trip.
    /// - Throws: `.unavailable` when the connection broke or a reply did not come in time.
    public func pipeline(_ commands: [[String]]) throws(RedisError) -> [RedisValue] {
        for arguments in commands {
            let queued = withArguments(arguments) { argv, lengths in
                volley_redis_append(context, Int32(arguments.count), argv, lengths)
            }
            guard queued == 0 else { throw RedisError(.unavailable, "Redis at \(url): out of memory") }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            guard let reply = volley_redis_next_reply(context) else {
                let message = volley_redis_error(context).map { String(cString: $0) } ?? "no reply"
                throw RedisError(.unavailable, "Redis at \(url): \(message)")
            }
            replies.append(Self.value(UnsafeRawPointer(reply)))
            freeReplyObject(reply)
        }
        return replies
    }

    /// `body` with the arguments as C strings and lengths (binary-safe), pinned for the call.
    private func withArguments<R>(_ arguments: [String],
                                  _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R) -> R? {
        let buffers = arguments.map { argument -> UnsafeMutableBufferPointer<CChar> in
            let bytes = Array(argument.utf8)
            let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: max(1, bytes.count))
            for (index, byte) in bytes.enumerated() { buffer[index] = CChar(bitPattern: byte) }
            return buffer
        }
        defer { for buffer in buffers { buffer.deallocate() } }
        var pointers = buffers.map { buffer -> UnsafePointer<CChar>? in buffer.baseAddress.map { UnsafePointer($0) } }
        let lengths = arguments.map(\.utf8.count)
        return pointers.withUnsafeMutableBufferPointer { pointerBuffer in
            lengths.withUnsafeBufferPointer { lengthBuffer -> R? in
                guard let argv = pointerBuffer.baseAddress, let argvlen = lengthBuffer.baseAddress else { return nil }
                return body(argv, argvlen)
            }
        }
    }

    public func command(_ arguments: [String]) throws(RedisError) -> RedisValue {
        let reply = withArguments(arguments) { argv, lengths in
            volley_redis_command(context, Int32(arguments.count), argv, lengths)
        } ?? nil
        guard let reply else {
            let message = volley_redis_error(context).map { String(cString: $0) } ?? "no reply"
            throw RedisError(.unavailable, "Redis at \(url): \(message)")
        }
        defer { freeReplyObject(reply) }
        return Self.value(UnsafeRawPointer(reply))
    }

    /// A hiredis reply (a `redisReply *`) copied into a value; `package` for the fuzz target,
    /// which makes replies with hiredis's reader from bytes.
    package static func value(_ reply: UnsafeRawPointer) -> RedisValue {
        switch volley_reply_type(reply) {
        case VOLLEY_REDIS_REPLY_INTEGER:
            return .integer(volley_reply_integer(reply))
        case VOLLEY_REDIS_REPLY_NIL:
            return .null
        case VOLLEY_REDIS_REPLY_ARRAY:
            return .array((0..<volley_reply_count(reply)).map { value(volley_reply_element(reply, $0)) })
        case let type:
            var length = 0
            let bytes: [UInt8]
            if let start = volley_reply_bytes(reply, &length) {
                bytes = Array(UnsafeRawBufferPointer(start: start, count: length))
            } else {
                bytes = []
            }
            switch type {
            case VOLLEY_REDIS_REPLY_STATUS: return .status(String(decoding: bytes, as: UTF8.self))
            case VOLLEY_REDIS_REPLY_ERROR: return .error(String(decoding: bytes, as: UTF8.self))
            default: return .string(bytes)
            }
        }
    }
}
