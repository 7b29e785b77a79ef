// SHA-256 from OpenSSL's libcrypto, the one digest Volley needs (a limiter's key fingerprint,
// VolleyCore/Engine/KeyFingerprint.swift). libcurl (the OpenSSL flavour) already loads this
// library into the process for TLS, so linking it adds no code at run time; the shim keeps
// Swift away from OpenSSL's macros and opaque types.
#ifndef VOLLEY_CLIBCRYPTO_SHIM_H
#define VOLLEY_CLIBCRYPTO_SHIM_H

#include <stddef.h>
#include <openssl/evp.h>

/// Writes the SHA-256 digest of `length` bytes at `data` to `digest` (32 bytes).
/// Returns 1 on success, 0 if libcrypto failed (it does not for SHA-256 short of no memory).
static inline int volley_sha256(const void *data, size_t length, unsigned char digest[32]) {
    unsigned int written = 0;
    return EVP_Digest(data, length, digest, &written, EVP_sha256(), NULL) == 1 && written == 32;
}

#endif
