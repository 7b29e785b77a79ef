"""The client's version and the protocol version it speaks: one copy each in this package.

The version is the binary's and the Node client's too; scripts/packaging/versions.py knows every
copy and tests/test_versions.py checks that they agree.
"""

__version__ = "0.1.0"

#: The version of docs/protocol.md this client speaks: sent in ``initialize``, and required of
#: the server's answer (another raises :class:`volley.ProtocolVersionMismatch`).
PROTOCOL_VERSION = 1
