#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import VolleySystem
import VolleyCore

/// A set of keys kept as 128-bit digests: 16 bytes a key whatever the key's length.
///
/// The digest is two SipHash values (Swift's `Hasher`, seeded per process) of the key with two
/// different prefixes; the set only lives inside one process, so the per-process seed is fine.
/// Two distinct keys collide with probability about n²/2¹²⁹ (≈10⁻²⁷ for a million keys).
struct KeySet {
    private struct Digest: Hashable {
        var high: Int
        var low: Int
    }

    private var digests: Set<Digest> = []

    var count: Int { digests.count }

    private static func digest(_ key: String) -> Digest {
        var first = Hasher()
        first.combine(UInt8(1))
        first.combine(key)
        var second = Hasher()
        second.combine(UInt8(2))
        second.combine(key)
        return Digest(high: first.finalize(), low: second.finalize())
    }

    mutating func insert(_ key: String) { digests.insert(Self.digest(key)) }
    func contains(_ key: String) -> Bool { digests.contains(Self.digest(key)) }
}

/// What an earlier run left in the output file, which is the journal: one outcome line per
/// finished item, each written with one `write(2)`.
struct ResumeState {
    /// Keys that have a successful outcome.
    var succeeded = KeySet()
    /// Keys whose outcomes so far are all failures.
    var failed = KeySet()
    /// Outcome lines read.
    var outcomeLines = 0
    /// Lines that are not outcomes (not JSON, or without `key` / `ok`): ignored.
    var ignoredLines = 0
    /// Bytes of an unfinished last line (a crash mid-write) that were cut off.
    var truncatedBytes = 0

    enum Decision: Equatable {
        case run
        case skipSucceeded
        case skipFailed
    }

    func decision(for key: String, retryFailed: Bool) -> Decision {
        if succeeded.contains(key) { return .skipSucceeded }
        if !retryFailed, failed.contains(key) { return .skipFailed }
        return .run
    }

    /// Reads the journal at `path` if there is one, after cutting off an unfinished last line
    /// so that new outcomes start on a line of their own.
    static func load(path: String) throws(FileError) -> ResumeState {
        var state = ResumeState()
        let fd = open(path, O_RDWR | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return state }
            throw FileError("cannot open the output to resume from it", path: path, errno: errno)
        }
        // The reader owns fd from here and closes it, on every path.
        let reader = LineReader(fd: fd, path: path, maxLineBytes: Int.max)
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError("cannot stat", path: path, errno: errno) }
        // A pipe, a terminal, /dev/null: nothing to resume from.
        guard info.st_mode & S_IFMT == S_IFREG else { return state }
        state.truncatedBytes = try cutUnfinishedLine(fd: fd, size: Int(info.st_size), path: path)
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw FileError("cannot seek", path: path, errno: errno) }
        var failedKeys = KeySet()
        while let line = try reader.next() {
            guard case .line(let bytes) = line, !bytes.isEmpty else { continue }
            guard case .object(let object)? = try? JSONParser.parse(bytes),
                  let key = object["key"]?.stringValue, let ok = object["ok"]?.boolValue
            else {
                state.ignoredLines += 1
                continue
            }
            state.outcomeLines += 1
            if ok { state.succeeded.insert(key) } else { failedKeys.insert(key) }
        }
        state.failed = failedKeys
        return state
    }

    /// Truncates the file after its last `\n`; returns how many bytes were cut.
    private static func cutUnfinishedLine(fd: Int32, size: Int, path: String) throws(FileError) -> Int {
        guard size > 0 else { return 0 }
        let block = 64 * 1024
        var buffer = [UInt8](repeating: 0, count: block)
        var end = size
        while end > 0 {
            let start = max(0, end - block)
            let want = end - start
            let got = buffer.withUnsafeMutableBytes { raw in pread(fd, raw.baseAddress, want, off_t(start)) }
            guard got == want else { throw FileError("cannot read", path: path, errno: got < 0 ? errno : EIO) }
            if let newline = buffer[0..<want].lastIndex(of: 0x0A) {
                let keep = start + newline + 1
                if keep == size { return 0 }
                guard ftruncate(fd, off_t(keep)) == 0 else {
                    throw FileError("cannot cut the unfinished last line", path: path, errno: errno)
                }
                return size - keep
            }
            end = start
        }
        guard ftruncate(fd, 0) == 0 else { throw FileError("cannot cut the unfinished last line", path: path, errno: errno) }
        return size
    }
}
