import CCurl

/// A libcurl easy handle and the error buffer libcurl writes its messages into.
/// Transport thread only.
struct EasyHandle {
    let pointer: UnsafeMutableRawPointer
    let errorBuffer: UnsafeMutablePointer<CChar>

    /// libcurl's message for the last failure, empty if it wrote none.
    var errorText: String { String(cString: errorBuffer) }
}

/// Easy handles kept between transfers, the way libcurl's own documentation recommends
/// reusing them: a reused handle keeps its allocations (receive and header buffers) and the
/// options that every transfer shares, so starting a transfer sets only what is its own.
/// Making and freeing a handle per transfer was a tenth of the sidecar's CPU at 20,000
/// small requests (allocator churn included).
///
/// Handles are reused *without* `curl_easy_reset`: in libcurl 7.88 a reset puts BUFFERSIZE
/// back to 16 KiB over the smaller receive buffer already allocated and refuses to set it
/// again, so reads would overrun it. Instead `EasySetup.setRequest` sets every per-transfer
/// option on every transfer, to its value or to its default, so nothing leaks from one
/// transfer to the next; a transfer that set an option with no safe default (a CA file)
/// hands its handle back with `reusable: false`.
struct EasyPool {
    private var idle: [EasyHandle] = []
    /// Idle handles kept at most; beyond it, handles are freed (each holds ~10 KB).
    let capacity: Int
    /// The libcurl receive buffer of every handle. LLM responses are small; a 16 KiB buffer per
    /// transfer was a third of the sidecar's memory at 2,000 in flight. Larger bodies just take
    /// more callbacks.
    static let receiveBufferBytes = 4 * 1024

    /// Passed to the socket open and close callbacks: the transport loop, which sets it
    /// before making any handle and outlives them all.
    var socketOwner: UnsafeMutableRawPointer?

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// An idle handle, or a new one with the shared options set (calling `created`).
    mutating func take(created: () -> Void) throws(HTTPClientError) -> EasyHandle {
        if let handle = idle.popLast() {
            handle.errorBuffer[0] = 0
            return handle
        }
        guard let easy = curl_easy_init() else {
            throw HTTPClientError(.other, "curl_easy_init failed")
        }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let handle = EasyHandle(pointer: easy, errorBuffer: errorBuffer)
        created()
        if let failure = EasySetup.setShared(on: handle, socketOwner: socketOwner) {
            Self.destroy(handle)
            throw HTTPClientError(.other, failure.message, curlCode: failure.code)
        }
        return handle
    }

    /// Takes back a handle that is no longer in the multi handle: kept for the next transfer
    /// when `reusable` and there is room, freed otherwise.
    mutating func give(_ handle: EasyHandle, reusable: Bool) {
        if reusable, idle.count < capacity {
            idle.append(handle)
        } else {
            Self.destroy(handle)
        }
    }

    /// Frees every idle handle.
    mutating func removeAll() {
        for handle in idle { Self.destroy(handle) }
        idle.removeAll()
    }

    private static func destroy(_ handle: EasyHandle) {
        curl_easy_cleanup(handle.pointer)
        handle.errorBuffer.deallocate()
    }
}
