import CLibcrypto

/// Which API key a provider calls with, without the key: the first 128 bits of
/// SHA-256("volley.limiter-key.v1\0" + key). Two providers with equal fingerprints (at one
/// origin) share one limiter (`LimiterIdentity`); that is all it is for.
///
/// Why SHA-256, truncated, and never shown:
/// - It must be stable across processes (the same key groups the same way in every run and,
///   later, in a daemon shared by several hosts), so Swift's `Hasher`, seeded per process, is
///   out.
/// - It must not give the key back. A 64-bit FNV or SipHash with a fixed seed is not
///   reversible for a long random key, but is fast enough to brute-force a short or guessable
///   one (a local gateway's `"test"`), and FNV collisions can be built at will. A
///   cryptographic hash keeps preimages out of reach for real keys; no hash can protect a
///   guessable key from a dictionary, so the fingerprint is never printed, logged, or put in
///   `stats`, not even a prefix (a 48-bit prefix is enough to confirm a guess). It lives only
///   in this process's memory, next to the key it was computed from.
/// - The prefix is domain separation: the value is not the plain SHA-256 of the key, which some
///   gateways log and which would otherwise match across systems.
/// - 128 bits: collisions (two keys merged into one budget) are out of reach; the rest of the
///   digest adds nothing to a grouping key.
///
/// SHA-256 comes from OpenSSL's libcrypto, which libcurl already loads (see Package.swift).
/// `description`, `debugDescription` and `dump` print no digits, so the fingerprint cannot
/// reach a log line by accident.
struct KeyFingerprint: Hashable, Sendable {
    private let high: UInt64
    private let low: UInt64

    static let domain = Array("volley.limiter-key.v1\u{0}".utf8)

    init(key: String) {
        let digest = Self.sha256(Self.domain + Array(key.utf8))
        high = digest[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = digest[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The SHA-256 digest of `input` (32 bytes), by libcrypto.
    static func sha256(_ input: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        let ok = input.withUnsafeBytes { bytes in
            digest.withUnsafeMutableBufferPointer { volley_sha256(bytes.baseAddress, bytes.count, $0.baseAddress) }
        }
        // libcrypto fails SHA-256 only when out of memory, where nothing else would work either.
        precondition(ok == 1, "SHA-256 failed in libcrypto")
        return digest
    }

    /// The 16 bytes, for tests only (checked against known SHA-256 vectors).
    var bytesForTesting: [UInt8] { bytes }

    /// The 16 bytes: only ever hashed again (`LimiterIdentity.sharedID`), never shown.
    var bytes: [UInt8] {
        (0..<8).reversed().map { UInt8(truncatingIfNeeded: high >> (8 * UInt64($0))) }
            + (0..<8).reversed().map { UInt8(truncatingIfNeeded: low >> (8 * UInt64($0))) }
    }
}

extension KeyFingerprint: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    var description: String { "KeyFingerprint(redacted)" }
    var debugDescription: String { description }
    var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
