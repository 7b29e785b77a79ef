import CCurl

extension Transfer {
    /// The error to fail this transfer with after libcurl ended it with `code`: its kind from
    /// the facts (`TransferFailure`, pure), its message libcurl's (or ours, for an oversized
    /// body). Call before the handle goes back to the pool: the facts and the text are read
    /// from it.
    func failure(_ code: CURLcode) -> HTTPClientError {
        var failure = TransferFailure(
            code: code,
            exceededMaxResponseBytes: exceededMaxResponseBytes,
            timeoutSeconds: timeoutSeconds,
            stallSeconds: stallSeconds,
            reusedConnection: easy?.connectionWasReused() ?? false,
            responseStarted: status != 0
        )
        if code == CURLE_HTTP2_STREAM, let easy {
            failure.requestFullySent = easy.uploadedBytes() >= requestBodyBytes
        }
        // A timeout needs the timings to find its kind, a lost connection to tell a stale one.
        if code == CURLE_OPERATION_TIMEDOUT || failure.kind == .connectionLost, let easy {
            (failure.preTransferSeconds, failure.totalSeconds) = easy.failureTimings()
        }
        let kind = failure.kind
        if kind == .responseTooLarge {
            return failure.error("the response body exceeded \(maxResponseBytes) bytes")
        }
        let written = easy?.errorText ?? ""
        let text = written.isEmpty ? String(cString: curl_easy_strerror(code)) : written
        return failure.error(text)
    }
}
