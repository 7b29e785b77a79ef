import CCurl

extension EasyHandle {
    /// What libcurl measured about the handle's last transfer.
    func transferInfo() -> HTTPTransferInfo {
        var connects = 0
        var version = 0
        var connect: curl_off_t = 0
        var firstByte: curl_off_t = 0
        var total: curl_off_t = 0
        var retryAfter: curl_off_t = 0
        _ = volley_easy_getinfo_long(pointer, CURLINFO_NUM_CONNECTS, &connects)
        _ = volley_easy_getinfo_long(pointer, CURLINFO_HTTP_VERSION, &version)
        _ = volley_easy_getinfo_off_t(pointer, CURLINFO_CONNECT_TIME_T, &connect)
        _ = volley_easy_getinfo_off_t(pointer, CURLINFO_STARTTRANSFER_TIME_T, &firstByte)
        _ = volley_easy_getinfo_off_t(pointer, CURLINFO_TOTAL_TIME_T, &total)
        _ = volley_easy_getinfo_off_t(pointer, CURLINFO_RETRY_AFTER, &retryAfter)
        let httpVersion: HTTPVersion
        switch version {
        case CURL_HTTP_VERSION_1_0: httpVersion = .http1_0
        case CURL_HTTP_VERSION_1_1: httpVersion = .http1_1
        case CURL_HTTP_VERSION_2_0: httpVersion = .http2
        case CURL_HTTP_VERSION_3: httpVersion = .http3
        default: httpVersion = .unknown
        }
        return HTTPTransferInfo(
            connectionReused: connects == 0,
            httpVersion: httpVersion,
            connectSeconds: Self.seconds(connect),
            timeToFirstByteSeconds: Self.seconds(firstByte),
            totalSeconds: Self.seconds(total),
            retryAfterSeconds: retryAfter > 0 ? Int(retryAfter) : nil
        )
    }

    /// Whether the handle's last transfer ran on a connection libcurl had pooled: it made no
    /// new one (`CURLINFO_NUM_CONNECTS` 0). For `TransferFailure`.
    func connectionWasReused() -> Bool {
        var connects = 0
        guard volley_easy_getinfo_long(pointer, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK else { return false }
        return connects == 0
    }

    /// How far the handle's last transfer got, in seconds from its start: until it was past
    /// connect + TLS (0 when it never was), and until it ended. For `TransferFailure`.
    func failureTimings() -> (preTransferSeconds: Double, totalSeconds: Double) {
        var preTransfer: curl_off_t = 0
        var total: curl_off_t = 0
        _ = volley_easy_getinfo_off_t(pointer, CURLINFO_PRETRANSFER_TIME_T, &preTransfer)
        _ = volley_easy_getinfo_off_t(pointer, CURLINFO_TOTAL_TIME_T, &total)
        return (Self.seconds(preTransfer), Self.seconds(total))
    }

    /// Bytes of request body libcurl sent in the handle's last transfer
    /// (`CURLINFO_SIZE_UPLOAD_T`). For `TransferFailure`.
    func uploadedBytes() -> Int {
        var uploaded: curl_off_t = 0
        _ = volley_easy_getinfo_off_t(pointer, CURLINFO_SIZE_UPLOAD_T, &uploaded)
        return Int(uploaded)
    }

    /// libcurl's `*_TIME_T` values are microseconds.
    private static func seconds(_ microseconds: curl_off_t) -> Double {
        Double(microseconds) / 1_000_000
    }
}

extension HTTPTransferInfo {
    /// For a transfer that ended without a handle to ask (it never got one).
    static let empty = HTTPTransferInfo(
        connectionReused: false, httpVersion: .unknown, connectSeconds: 0,
        timeToFirstByteSeconds: 0, totalSeconds: 0, retryAfterSeconds: nil)
}
