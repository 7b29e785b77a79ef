import Foundation
import Synchronization
import VolleySystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Writes a process's stdin on its own thread, in order; closes it after the last write.
final class StdinWriter: Sendable {
    private struct State {
        /// Chunks to write; `nil` closes the descriptor.
        var queue: [[UInt8]?] = []
        var isClosing = false
    }

    private let state = Locked(State())
    private let queued = DispatchSemaphore(value: 0)

    init(fd: Int32) {
        Thread.detachNewThread { [self] in run(fd: fd) }
    }

    private func run(fd: Int32) {
        var broken = false
        while true {
            queued.wait()
            let next = state.withLock { state -> [UInt8]?? in
                state.queue.isEmpty ? .none : .some(state.queue.removeFirst())
            }
            guard case .some(let chunk) = next else { continue }
            guard let bytes = chunk else {
                Glibc.close(fd)
                return
            }
            // After EPIPE (the sidecar is gone) later chunks are dropped.
            if !broken { broken = !writeFully(fd, bytes) }
        }
    }

    /// Queues `bytes`; false once ``close()`` was called.
    func enqueue(_ bytes: [UInt8]) -> Bool {
        let accepted = state.withLock { state -> Bool in
            guard !state.isClosing else { return false }
            state.queue.append(bytes)
            return true
        }
        if accepted { queued.signal() }
        return accepted
    }

    /// Closes the descriptor after the queued chunks; later calls do nothing.
    func close() {
        let first = state.withLock { state -> Bool in
            guard !state.isClosing else { return false }
            state.isClosing = true
            state.queue.append(nil)
            return true
        }
        if first { queued.signal() }
    }
}

/// Writes all of `bytes` to `fd`; false on an error (EPIPE when the reader is gone).
private func writeFully(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            return write(fd, base + offset, raw.count - offset)
        }
        if written < 0 {
            if errno == EINTR { continue }
            return false
        }
        offset += written
    }
    return true
}

/// A boolean set once from one thread and read from others.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)

    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// Bytes appended from one thread and read from others.
final class ByteBuffer: Sendable {
    private let storage = Locked<[UInt8]>([])

    func append(_ chunk: ArraySlice<UInt8>) {
        storage.withLock { $0.append(contentsOf: chunk) }
    }

    var bytes: [UInt8] { storage.withLock { $0 } }
}

/// Reads `fd` until EOF and hands each `\n`-terminated line (without it) to `line`; a final
/// unterminated fragment is handed over too.
func readLines(fd: Int32, into line: (_ line: [UInt8]) -> Void) {
    var pending: [UInt8] = []
    readChunks(fd: fd) { chunk in
        var start = chunk.startIndex
        while let newline = chunk[start...].firstIndex(of: 0x0A) {
            if pending.isEmpty {
                line(Array(chunk[start..<newline]))
            } else {
                pending.append(contentsOf: chunk[start..<newline])
                line(pending)
                pending = []
            }
            start = newline + 1
        }
        pending.append(contentsOf: chunk[start...])
    }
    if !pending.isEmpty { line(pending) }
}

/// Blocking `read(2)` loop into 64 KiB chunks until EOF or an error.
func readChunks(fd: Int32, _ chunk: (ArraySlice<UInt8>) -> Void) {
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = buffer.withUnsafeMutableBytes { raw -> Int in
            guard let base = raw.baseAddress else { return -1 }
            return read(fd, base, raw.count)
        }
        if count > 0 {
            chunk(buffer[0..<count])
        } else if count < 0, errno == EINTR {
            continue
        } else {
            return
        }
    }
}
