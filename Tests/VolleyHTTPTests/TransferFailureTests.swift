import CCurl
import Testing
@testable import VolleyHTTP

/// `TransferFailure.kind`: libcurl result codes and timings to error kinds, without sockets.
/// The timeout cases are the ones libcurl reports with one code (CURLE_OPERATION_TIMEDOUT) and
/// the facts tell apart: the total limit, the connect phase, the low-speed window.
struct TransferFailureTests {
    private func kind(
        _ code: CURLcode, exceeded: Bool = false, timeout: Double? = nil, stall: Int? = nil,
        preTransfer: Double = 0, total: Double = 0
    ) -> HTTPClientError.Kind {
        TransferFailure(
            code: code, exceededMaxResponseBytes: exceeded, timeoutSeconds: timeout,
            stallSeconds: stall, preTransferSeconds: preTransfer, totalSeconds: total
        ).kind
    }

    // MARK: - Timeouts

    @Test func aTransferThatRanItsWholeLimitTimedOut() {
        #expect(kind(CURLE_OPERATION_TIMEDOUT, timeout: 0.3, preTransfer: 0.001, total: 0.301) == .timeout)
        // The timings are whole microseconds: a hair under the limit is the limit.
        #expect(kind(CURLE_OPERATION_TIMEDOUT, timeout: 10, preTransfer: 0.001, total: 9.995) == .timeout)
        // The total limit is checked first, so it wins over a low-speed window also passed.
        #expect(kind(CURLE_OPERATION_TIMEDOUT, timeout: 5, stall: 1, preTransfer: 0.01, total: 5.0) == .timeout)
        // Even while still connecting.
        #expect(kind(CURLE_OPERATION_TIMEDOUT, timeout: 0.3, total: 0.3) == .timeout)
    }

    @Test func aTransferThatNeverGotPastConnectAndTLSHitTheConnectTimeout() {
        #expect(kind(CURLE_OPERATION_TIMEDOUT, timeout: 30, total: 0.3) == .connectTimeout)
        #expect(kind(CURLE_OPERATION_TIMEDOUT, total: 10.0) == .connectTimeout)
        // The low-speed check does not run before the request is sent.
        #expect(kind(CURLE_OPERATION_TIMEDOUT, timeout: 30, stall: 1, total: 10.0) == .connectTimeout)
    }

    @Test func aTransferPastItsLowSpeedWindowButInsideItsLimitStalled() {
        #expect(kind(CURLE_OPERATION_TIMEDOUT, timeout: 30, stall: 1, preTransfer: 0.002, total: 2.4) == .stalled)
        #expect(kind(CURLE_OPERATION_TIMEDOUT, stall: 2, preTransfer: 0.002, total: 6.0) == .stalled)
        #expect(kind(CURLE_OPERATION_TIMEDOUT, timeout: 30, stall: 3, preTransfer: 0.002, total: 2.9995) == .stalled)
    }

    @Test func anyOtherTimeoutPastConnectIsTheTotalOne() {
        // No low-speed window set.
        #expect(kind(CURLE_OPERATION_TIMEDOUT, timeout: 30, preTransfer: 0.002, total: 2.4) == .timeout)
        #expect(kind(CURLE_OPERATION_TIMEDOUT, preTransfer: 0.002, total: 2.4) == .timeout)
        // A window set but not yet passed: the low-speed check cannot have fired.
        #expect(kind(CURLE_OPERATION_TIMEDOUT, timeout: 30, stall: 5, preTransfer: 0.002, total: 2.4) == .timeout)
    }

    // MARK: - Other codes

    @Test func anOversizedBodyIsTooLargeWhateverTheCode() {
        #expect(kind(CURLE_WRITE_ERROR, exceeded: true) == .responseTooLarge)
        #expect(kind(CURLE_OPERATION_TIMEDOUT, exceeded: true, timeout: 1, total: 1) == .responseTooLarge)
        // A write error of our own without an oversized body is not.
        #expect(kind(CURLE_WRITE_ERROR) == .other)
    }

    @Test func codesMapToTheirKinds() {
        let expected: [(HTTPClientError.Kind, [CURLcode])] = [
            (.connectionFailed, [CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT]),
            (.tls, [CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
                    CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
                    CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE,
                    CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED,
                    CURLE_USE_SSL_FAILED]),
            (.connectionLost, [CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE,
                               CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_WEIRD_SERVER_REPLY,
                               CURLE_BAD_CONTENT_ENCODING]),
            (.invalidRequest, [CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT]),
            (.other, [CURLE_ABORTED_BY_CALLBACK, CURLE_OUT_OF_MEMORY, CURLE_TOO_MANY_REDIRECTS,
                      CURLE_FILESIZE_EXCEEDED]),
        ]
        for (want, codes) in expected {
            for code in codes {
                #expect(kind(code) == want, "CURLcode \(code.rawValue)")
                // Timings and limits matter only for timeouts.
                #expect(kind(code, timeout: 1, stall: 1, preTransfer: 0.5, total: 1) == want, "CURLcode \(code.rawValue)")
            }
        }
    }
}
