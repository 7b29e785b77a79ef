// The client's version and the protocol version it speaks: one copy each in this library.
// The version is package.json's, the binary's and the Python client's too;
// scripts/packaging/versions.py knows every copy and clients/python/tests/test_versions.py
// checks that they agree.

/** This library's version, sent as `client.version` in `initialize`. */
export const VERSION = '0.1.0';

/**
 * The version of docs/protocol.md this client speaks: sent in `initialize`, and required of the
 * server's answer (another rejects with `ProtocolVersionMismatch`).
 */
export const PROTOCOL_VERSION = 1;
