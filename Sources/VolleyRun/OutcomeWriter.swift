#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import VolleySystem

/// Appends outcome lines to the output (the journal). Each line goes out with one `write(2)`
/// (looping only if the kernel takes part of it), under a lock, so lines never interleave and
/// every outcome reported done is in the file: a crash can at worst leave the last line
/// unfinished, which the next run cuts off.
final class OutcomeWriter: Sendable {
    private struct State {
        var fd: Int32
        var failure: String?
        var closed = false
    }

    let path: String
    private let ownsDescriptor: Bool
    private let state: Locked<State>

    /// Opens `path` for appending (creating it), or stdout for `-`, and takes an exclusive
    /// advisory lock (`flock(2)`) on a regular file, held until `close()` (or the process ends):
    /// two runs on one output would otherwise both run, and pay for, every line.
    ///
    /// - Throws: ``FileError`` when the file cannot be opened, or is locked by another run.
    init(path: String) throws(FileError) {
        self.path = path
        if path == "-" {
            ownsDescriptor = false
            state = Locked(State(fd: STDOUT_FILENO))
        } else {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw FileError("cannot open for writing", path: path, errno: errno) }
            do throws(FileError) {
                try Self.lock(fd, path: path)
            } catch {
                posixClose(fd)
                throw error
            }
            ownsDescriptor = true
            state = Locked(State(fd: fd))
        }
    }

    /// Locks a regular file for this run; a pipe, a terminal or `/dev/null` is shared freely.
    private static func lock(_ fd: Int32, path: String) throws(FileError) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError("cannot stat", path: path, errno: errno) }
        guard info.st_mode & S_IFMT == S_IFREG else { return }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK {
                throw FileError(message: "\(path): another volley run is writing this output (it holds the file's lock); "
                    + "wait for it to finish, or give this run another -o")
            }
            throw FileError("cannot lock", path: path, errno: code)
        }
    }

    /// Writes one whole line (`bytes` must end with `\n`). Returns false once writing failed.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        state.withLock { state in
            guard state.failure == nil, !state.closed else { return false }
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { raw in
                    posixWrite(state.fd, raw.baseAddress.map { $0 + offset }, bytes.count - offset)
                }
                if written < 0 {
                    if errno == EINTR { continue }
                    state.failure = "\(path == "-" ? "stdout" : path): cannot write: \(errnoText(errno))"
                    return false
                }
                offset += written
            }
            return true
        }
    }

    /// Why writing failed, if it did.
    var failure: String? { state.withLock { $0.failure } }

    func close() {
        state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            if ownsDescriptor { posixClose(state.fd) }
        }
    }
}
