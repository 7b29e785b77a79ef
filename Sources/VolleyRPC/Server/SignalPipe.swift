#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Synchronization
import VolleySystem

/// SIGTERM and SIGINT as calls on a thread of their own: a C handler writes the signal's
/// number to a pipe (async-signal-safe) and a thread reads it.
///
/// Not a `DispatchSource`: it is armed asynchronously after `resume()`, and a signal arriving
/// before that, with the disposition already `SIG_IGN`, was silently lost (the process then
/// never exited). Once ``install(onSignal:)`` returns, no signal is lost.
enum SignalPipe {
    /// Catches SIGTERM and SIGINT from now on; `onSignal` gets each one's number, in order, on
    /// the pipe's reading thread. Install once per process.
    static func install(onSignal: @escaping @Sendable (Int32) -> Void) throws(SignalSetupError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw SignalSetupError(errno: errno) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // Never block in the handler, however many signals arrive.
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
        let readFD = fds[0]
        signalPipeWriteFD.store(fds[1], ordering: .releasing)
        do {
            try DetachedThread.start(name: "volley-signals") {
                var byte: UInt8 = 0
                while true {
                    let count = read(readFD, &byte, 1)
                    if count == 1 {
                        onSignal(Int32(byte))
                    } else if count < 0, errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        } catch {
            throw SignalSetupError(errno: error.code)
        }
        // signal(2) fails only for invalid numbers; glibc's gives BSD semantics (SA_RESTART,
        // the handler stays installed).
        for number in [SIGTERM, SIGINT] {
            _ = signal(number, forwardSignalToPipe)
        }
    }
}

/// The write end of the signal pipe, read by the signal handler (a lock-free atomic load).
private let signalPipeWriteFD = Atomic<Int32>(-1)

/// The SIGTERM/SIGINT handler: only async-signal-safe calls (`write(2)`), errno preserved.
private func forwardSignalToPipe(_ number: Int32) {
    let savedErrno = errno
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(signalPipeWriteFD.load(ordering: .acquiring), &byte, 1)
    errno = savedErrno
}

/// The signal pipe or its thread could not be set up.
struct SignalSetupError: Error, CustomStringConvertible {
    let errno: Int32
    var description: String { "errno \(errno)" }
}
