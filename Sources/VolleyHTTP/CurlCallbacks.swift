import CCurl
import VolleySystem

/// Every C callback the transport gives libcurl. Each forwards to the Swift object libcurl
/// passes back as its user pointer: the `TransferLoop` (socket, timer, open- and close-socket)
/// or the `Transfer` (header and body data). All run on the transport thread, inside
/// `curl_multi_socket_action`, `curl_multi_add_handle`, `remove_handle` or `cleanup`; the
/// pointers are unretained, and the loop and its live-transfer table keep their objects alive
/// for as long as libcurl may call back.
enum CurlCallbacks {
    /// Points `multi`'s socket and timer callbacks at `loop`. Returns what libcurl refused,
    /// if anything.
    static func install(on multi: UnsafeMutableRawPointer, loop: UnsafeMutableRawPointer) -> String? {
        for (code, what) in [
            (volley_multi_setopt_socket_callback(multi, socket), "SOCKETFUNCTION"),
            (volley_multi_setopt_ptr(multi, CURLMOPT_SOCKETDATA, loop), "SOCKETDATA"),
            (volley_multi_setopt_timer_callback(multi, timer), "TIMERFUNCTION"),
            (volley_multi_setopt_ptr(multi, CURLMOPT_TIMERDATA, loop), "TIMERDATA"),
        ] where code != CURLM_OK {
            return "curl_multi_setopt \(what): \(String(cString: curl_multi_strerror(code)))"
        }
        return nil
    }

    /// The socket callback: forwards to the loop passed as SOCKETDATA.
    private static let socket: volley_socket_callback = { _, fd, what, userp, _ in
        guard let userp else { return -1 }
        Unmanaged<TransferLoop>.fromOpaque(userp).takeUnretainedValue().watch(fd, what)
        return 0
    }

    /// The timer callback: forwards to the loop passed as TIMERDATA.
    private static let timer: volley_timer_callback = { _, milliseconds, userp in
        guard let userp else { return -1 }
        Unmanaged<TransferLoop>.fromOpaque(userp).takeUnretainedValue().setTimer(milliseconds)
        return 0
    }

    /// The open-socket callback: makes the socket and tells the loop passed as OPENSOCKETDATA.
    static let openSocket: curl_opensocket_callback = { clientp, _, address in
        guard let clientp, let address else { return CURL_SOCKET_BAD }
        let fd = volley_open_socket(address)
        Unmanaged<TransferLoop>.fromOpaque(clientp).takeUnretainedValue().opened(fd)
        return fd
    }

    /// The close-socket callback: tells the loop passed as CLOSESOCKETDATA, then closes.
    static let closeSocket: curl_closesocket_callback = { clientp, fd in
        if let clientp {
            Unmanaged<TransferLoop>.fromOpaque(clientp).takeUnretainedValue().closing(fd)
        }
        posixClose(fd)
        return 0
    }

    /// The header callback: forwards to the `Transfer` passed as HEADERDATA.
    static let header: volley_data_callback = { buffer, size, count, userdata in
        let length = size * count
        guard let userdata else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
        transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: buffer, count: length))
        return length
    }

    /// The write callback: forwards to the `Transfer` passed as WRITEDATA.
    static let write: volley_data_callback = { buffer, size, count, userdata in
        let length = size * count
        guard let userdata else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
        // Returning less than `length` makes libcurl abort with CURLE_WRITE_ERROR.
        return transfer.receiveBody(UnsafeRawBufferPointer(start: buffer, count: length)) ? length : 0
    }
}
