import CCurl
import Testing
@testable import VolleyHTTP

/// `HTTPClientError.staleConnection` from `TransferFailure`'s facts, without sockets: a
/// connection lost on a reused keep-alive connection before any response, within a round trip,
/// is stale (the request never reached the server, so it may be sent again on a new
/// connection); anything else is not.
struct StaleConnectionTests {
    private func error(_ code: CURLcode, reused: Bool, responseStarted: Bool = false,
                       preTransfer: Double = 0.000_1, total: Double = 0.002) -> HTTPClientError {
        TransferFailure(code: code, preTransferSeconds: preTransfer, totalSeconds: total,
                        reusedConnection: reused, responseStarted: responseStarted).error("text")
    }

    @Test(arguments: [CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_HTTP2])
    func aConnectionLostOnAReusedConnectionBeforeAnyResponseIsStale(code: CURLcode) {
        let failure = error(code, reused: true)
        #expect(failure.kind == .connectionLost)
        #expect(failure.staleConnection)
        #expect(failure.curlCode == Int(code.rawValue) && failure.message == "text")
    }

    @Test(arguments: [CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING])
    func onAConnectionItOpenedItselfItIsNot(code: CURLcode) {
        // The server may have read the request before the connection broke.
        #expect(!error(code, reused: false).staleConnection)
    }

    @Test func onceAStatusLineArrivedItIsNot() {
        // The server read the request and was answering it: it may have run the call.
        #expect(!error(CURLE_RECV_ERROR, reused: true, responseStarted: true).staleConnection)
        #expect(!error(CURLE_PARTIAL_FILE, reused: true, responseStarted: true).staleConnection)
    }

    @Test(arguments: [CURLE_OPERATION_TIMEDOUT, CURLE_COULDNT_CONNECT, CURLE_PEER_FAILED_VERIFICATION, CURLE_URL_MALFORMAT])
    func otherKindsOnAReusedConnectionAreNot(code: CURLcode) {
        // A timeout may be a model still generating; the others are not a dead socket.
        #expect(!error(code, reused: true).staleConnection)
    }

    @Test func aConnectionThatDiedAfterARoundTripWouldTakeIsNot() {
        // Lost 30 s in: the server was working on the call when it went.
        #expect(!error(CURLE_RECV_ERROR, reused: true, preTransfer: 0.000_1, total: 30).staleConnection)
        #expect(!error(CURLE_RECV_ERROR, reused: true, preTransfer: 0.5, total: 0.5 + TransferFailure.staleWindowSeconds).staleConnection)
        #expect(error(CURLE_RECV_ERROR, reused: true, preTransfer: 0.5, total: 1.2).staleConnection)
    }

    @Test func oneHTTP2StreamsResetIsNot() {
        // The connection is fine; the server refused or ended this one request.
        let failure = error(CURLE_HTTP2_STREAM, reused: true)
        #expect(failure.kind == .connectionLost && !failure.staleConnection)
    }

    @Test func anErrorMadeWithoutTheFactsIsNotStale() {
        #expect(!HTTPClientError(.connectionLost, "reset").staleConnection)
        #expect(!HTTPClientError(.connectionLost, "reset").requestNotSent)
    }

    // `requestNotSent`: an HTTP/2 stream the server ended while the body was still going out
    // and before any response (it answered early, RFC 9113 §8.1, and libcurl 7.88 lost the
    // answer): safe to send again, on any connection.

    private func streamEnded(sent: Bool, responseStarted: Bool = false, code: CURLcode = CURLE_HTTP2_STREAM) -> HTTPClientError {
        TransferFailure(code: code, reusedConnection: true, responseStarted: responseStarted, requestFullySent: sent).error("text")
    }

    @Test func aStreamEndedBeforeTheBodyWasSentAndBeforeAnyResponseIsUnsent() {
        let failure = streamEnded(sent: false)
        #expect(failure.requestNotSent && !failure.staleConnection && failure.kind == .connectionLost)
    }

    @Test func oneEndedAfterTheWholeRequestOrOnceAResponseBeganIsNot() {
        // The server had the whole request: it may have run the call.
        #expect(!streamEnded(sent: true).requestNotSent)
        // It was answering: the answer may be a call it ran.
        #expect(!streamEnded(sent: false, responseStarted: true).requestNotSent)
        // Only an HTTP/2 stream's end says that the server stopped reading this request.
        #expect(!streamEnded(sent: false, code: CURLE_RECV_ERROR).requestNotSent)
        #expect(!streamEnded(sent: false, code: CURLE_OPERATION_TIMEDOUT).requestNotSent)
    }
}
