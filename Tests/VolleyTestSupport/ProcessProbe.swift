import Foundation

/// What another process is doing, read from `/proc` (Linux), for tests that wait on a state no
/// event signals (a child blocked on a full pipe).
public enum ProcessProbe {
    /// Whether one of `pid`'s threads is blocked in `write(2)` or `writev(2)` on descriptor `fd`,
    /// from `/proc/PID/task/*/syscall`; `nil` when that cannot be read on this system.
    public static func isBlockedWriting(pid: Int32, fd: Int32) -> Bool? {
        #if arch(x86_64)
        let writeCalls: Set<Substring> = ["1", "20"]  // write, writev
        #elseif arch(arm64)
        let writeCalls: Set<Substring> = ["64", "66"]
        #else
        return nil
        #endif
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return nil }
        let descriptor = Substring("0x" + String(fd, radix: 16))
        var readable = false
        for task in tasks {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/syscall", encoding: .utf8) else { continue }
            readable = true
            let fields = text.split(separator: " ")
            if fields.count > 1, writeCalls.contains(fields[0]), fields[1] == descriptor { return true }
        }
        return readable ? false : nil
    }
}
