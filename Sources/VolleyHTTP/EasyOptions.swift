import CCurl

/// Sets options on one easy handle through the typed C wrappers, remembering the first
/// option libcurl refused so the request fails alone (never the process).
struct EasyOptions {
    struct Failure {
        var message: String
        var code: Int
    }

    let easy: UnsafeMutableRawPointer
    private(set) var failure: Failure?

    init(easy: UnsafeMutableRawPointer) {
        self.easy = easy
    }

    mutating func set(_ option: CURLoption, _ value: Int) {
        check(option, volley_easy_setopt_long(easy, option, value))
    }

    /// Sets an option a libcurl older than the one built against may not know: there
    /// (`CURLE_UNKNOWN_OPTION`) the handle stays as it was and nothing fails.
    mutating func setIfKnown(_ option: CURLoption, _ value: Int) {
        let code = volley_easy_setopt_long(easy, option, value)
        guard code != CURLE_UNKNOWN_OPTION else { return }
        check(option, code)
    }

    mutating func set(_ option: CURLoption, offset value: Int64) {
        check(option, volley_easy_setopt_off_t(easy, option, curl_off_t(value)))
    }

    /// Strings are copied by libcurl (since 7.17), so `value` need not outlive the call.
    mutating func set(_ option: CURLoption, _ value: String) {
        let code = value.withCString { volley_easy_setopt_string(easy, option, $0) }
        check(option, code)
    }

    mutating func set(_ option: CURLoption, pointer value: UnsafeRawPointer?) {
        check(option, volley_easy_setopt_ptr(easy, option, value))
    }

    mutating func set(_ option: CURLoption, callback: volley_data_callback) {
        check(option, volley_easy_setopt_data_callback(easy, option, callback))
    }

    mutating func set(_ option: CURLoption, openSocket callback: curl_opensocket_callback) {
        check(option, volley_easy_setopt_opensocket(easy, callback))
    }

    mutating func set(_ option: CURLoption, closeSocket callback: curl_closesocket_callback) {
        check(option, volley_easy_setopt_closesocket(easy, callback))
    }

    private mutating func check(_ option: CURLoption, _ code: CURLcode) {
        guard code != CURLE_OK, failure == nil else { return }
        failure = Failure(
            message: "libcurl refused option \(option.rawValue): \(String(cString: curl_easy_strerror(code)))",
            code: Int(code.rawValue)
        )
    }
}
