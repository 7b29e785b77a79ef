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
    /// One key's digest (also what ``KeyLines`` keeps).
    struct Digest: Hashable {
        var high: Int
        var low: Int
    }

    private var digests: Set<Digest> = []

    var count: Int { digests.count }

    static func digest(_ key: String) -> Digest {
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

/// Who answers a line: the provider's name and the model the request asks for (nil when it
/// names none). A success counts as done on resume only under the same identity.
struct RunIdentity: Hashable, Sendable {
    var provider: String
    var model: String?

    /// `mock`, `openai/gpt-4o-mini`.
    var text: String { model.map { "\(provider)/\($0)" } ?? provider }
}

/// What an earlier run left in the output file, which is the journal: one outcome line per
/// finished item, each written with one `write(2)`.
struct ResumeState {
    /// Keys that have a successful outcome (under any provider).
    var succeeded = KeySet()
    /// Key, provider and model of each success that names its provider.
    var succeededUnder = KeySet()
    /// Keys of successes that name no provider: journaled before outcomes named it.
    var succeededUnnamed = KeySet()
    /// Keys whose outcomes so far are all failures.
    var failed = KeySet()
    /// Outcome lines read.
    var outcomeLines = 0
    /// Successful outcome lines that name no provider (an older volley wrote them).
    var unnamedSuccesses = 0
    /// Successful OpenAI Batch output lines (they name no provider: counted as done).
    var batchSuccesses = 0
    /// Successes by provider and model, for the resume note: at most `identityLimit` of them,
    /// the rest counted in `otherIdentitySuccesses`.
    var successesByIdentity: [RunIdentity: Int] = [:]
    var otherIdentitySuccesses = 0
    /// Lines that are not outcomes (not JSON, or without `key` / `ok`): ignored.
    var ignoredLines = 0
    /// Bytes of an unfinished last line (a crash mid-write) that were cut off.
    var truncatedBytes = 0

    static let identityLimit = 8

    enum Decision: Equatable {
        case run
        /// A success under the same provider and model (or the line cannot say which it would use).
        case skipSucceeded
        /// A success journaled without its provider: counted as done.
        case skipSucceededUnnamed
        /// A success under another provider or model, counted as done as asked
        /// (`--accept-other-provider`).
        case skipSucceededElsewhere
        /// Only successes under another provider or model: run again.
        case runAgainElsewhere
        case skipFailed
    }

    /// What to do with a line keyed `key` that this run would send as `identity` (nil when the
    /// line is invalid and is sent nowhere).
    func decision(
        for key: String, identity: RunIdentity? = nil, retryFailed: Bool, acceptOtherProvider: Bool = false
    ) -> Decision {
        if succeeded.contains(key) {
            guard let identity else { return .skipSucceeded }
            if succeededUnder.contains(Self.identityKey(key, identity)) { return .skipSucceeded }
            if succeededUnnamed.contains(key) { return .skipSucceededUnnamed }
            return acceptOtherProvider ? .skipSucceededElsewhere : .runAgainElsewhere
        }
        if !retryFailed, failed.contains(key) { return .skipFailed }
        return .run
    }

    /// The key, provider and model as one string for ``KeySet`` (NUL cannot be in a provider's
    /// name; a model named or not are told apart).
    static func identityKey(_ key: String, _ identity: RunIdentity) -> String {
        "\(key)\u{0}\(identity.provider)\u{0}" + (identity.model.map { "=" + $0 } ?? "-")
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
            guard case .object(let object)? = try? JSONParser.parse(bytes) else {
                state.ignoredLines += 1
                continue
            }
            if object["custom_id"] != nil {
                // An OpenAI Batch output line: it names no provider.
                guard let (key, ok) = BatchLine.journaled(object) else { continue }
                state.outcomeLines += 1
                if ok {
                    state.succeeded.insert(key)
                    state.succeededUnnamed.insert(key)
                    state.batchSuccesses += 1
                } else {
                    failedKeys.insert(key)
                }
                continue
            }
            guard let key = object["key"]?.stringValue, let ok = object["ok"]?.boolValue else {
                state.ignoredLines += 1
                continue
            }
            state.outcomeLines += 1
            // A refused repeat of a key says nothing about the line that has the key.
            if object[OutcomeLine.duplicateOfField] != nil { continue }
            // Nor does a line no provider could take: it made no call, and a rerun with the key
            // set (or a provider named) must run it, not report it as failed before.
            if object[OutcomeLine.unroutedField] != nil { continue }
            guard ok else {
                failedKeys.insert(key)
                continue
            }
            state.succeeded.insert(key)
            if let provider = object["provider"]?.stringValue {
                let identity = RunIdentity(provider: provider, model: object["model"]?.stringValue)
                state.succeededUnder.insert(identityKey(key, identity))
                if state.successesByIdentity[identity] != nil || state.successesByIdentity.count < identityLimit {
                    state.successesByIdentity[identity, default: 0] += 1
                } else {
                    state.otherIdentitySuccesses += 1
                }
            } else {
                state.succeededUnnamed.insert(key)
                state.unnamedSuccesses += 1
            }
        }
        state.failed = failedKeys
        return state
    }

    /// `mock 20, openai/gpt-4o-mini 3`, most first.
    var identitiesText: String {
        var parts = successesByIdentity.sorted { ($1.value, $0.key.text) < ($0.value, $1.key.text) }
            .map { "\($0.key.text) \($0.value)" }
        if otherIdentitySuccesses > 0 { parts.append("others \(otherIdentitySuccesses)") }
        return parts.joined(separator: ", ")
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
