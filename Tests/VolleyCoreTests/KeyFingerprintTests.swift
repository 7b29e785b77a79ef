import Testing
@testable import VolleyCore

struct KeyFingerprintTests {
    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    @Test func sha256MatchesTheStandardVectors() {
        // FIPS 180-2 examples.
        #expect(hex(KeyFingerprint.sha256(Array("abc".utf8)))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(KeyFingerprint.sha256([]))
            == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(KeyFingerprint.sha256(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func isTheFirst128BitsOfTheDomainSeparatedDigest() {
        // python3: hashlib.sha256(b"volley.limiter-key.v1\0" + b"sk-test-123").hexdigest()[:32]
        #expect(hex(KeyFingerprint(key: "sk-test-123").bytesForTesting) == "c40f1a9702572222669878f0ba56adfa")
        // Not the plain SHA-256 of the key.
        #expect(hex(KeyFingerprint(key: "sk-test-123").bytesForTesting)
            != String(hex(KeyFingerprint.sha256(Array("sk-test-123".utf8))).prefix(32)))
    }

    @Test func sameKeySameFingerprintOtherKeyOther() {
        #expect(KeyFingerprint(key: "sk-a") == KeyFingerprint(key: "sk-a"))
        #expect(KeyFingerprint(key: "sk-a") != KeyFingerprint(key: "sk-b"))
        #expect(KeyFingerprint(key: "") != KeyFingerprint(key: " "))
    }

    @Test func printsNothingOfTheDigestOrTheKey() {
        let key = "sk-secret-0123456789"
        let fingerprint = KeyFingerprint(key: key)
        let digits = hex(fingerprint.bytesForTesting)
        var dumped = ""
        dump(fingerprint, to: &dumped)
        for text in ["\(fingerprint)", String(describing: fingerprint), String(reflecting: fingerprint), dumped] {
            #expect(!text.contains(key))
            #expect(!text.contains(String(digits.prefix(6))))
            #expect(!text.contains(String(fingerprint.bytesForTesting[0])))
        }
    }
}
