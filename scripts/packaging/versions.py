#!/usr/bin/env python3
"""Every copy of Volley's version and of its protocol version, read from the sources.

One version number names the binary and both clients, and one protocol version is spoken by
all three. This is the one place that knows where each copy is written:

    python3 scripts/packaging/versions.py     prints the version; exits 1 naming the files
                                              when the copies disagree

scripts/package runs it before building, and clients/python/tests/test_versions.py (part of
scripts/test) checks the same copies against each other and against the built binary.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Dict

ROOT = Path(__file__).resolve().parents[2]

# (file, pattern whose first group is the value): the release version.
VERSION_SOURCES = [
    ("Sources/volley/VolleyCommand.swift", r'^let volleyVersion = "([^"]+)"$'),
    ("clients/python/pyproject.toml", r'^version = "([^"]+)"$'),
    ("clients/python/src/volley/_version.py", r'^__version__ = "([^"]+)"$'),
    ("clients/node/package.json", r'^  "version": "([^"]+)",$'),
    ("clients/node/src/version.js", r"^export const VERSION = '([^']+)';$"),
]

# The protocol version: what the server accepts and answers in `initialize`, what each client
# sends and expects, and the spec's title.
PROTOCOL_SOURCES = [
    ("Sources/VolleyRPC/Server/Server+Methods.swift", r"^    public static let protocolVersion = (\d+)$"),
    ("clients/python/src/volley/_version.py", r"^PROTOCOL_VERSION = (\d+)$"),
    ("clients/node/src/version.js", r"^export const PROTOCOL_VERSION = (\d+);$"),
    ("docs/protocol.md", r"^# Volley wire protocol, version (\d+)$"),
]


def read(sources, root: Path = ROOT) -> Dict[str, str]:
    """``{file: value}`` for each source; a file whose pattern matches no line, or more than
    one, raises ``ValueError`` (the pattern went stale, or the file has two copies)."""
    found: Dict[str, str] = {}
    for relative, pattern in sources:
        text = (root / relative).read_text(encoding="utf-8")
        matches = re.findall(pattern, text, flags=re.MULTILINE)
        if len(matches) != 1:
            raise ValueError(f"{relative}: expected one line matching {pattern!r}, found {len(matches)}")
        found[relative] = matches[0]
    return found


def main() -> int:
    problems = []
    for what, sources in (("version", VERSION_SOURCES), ("protocol version", PROTOCOL_SOURCES)):
        values = read(sources)
        if len(set(values.values())) != 1:
            listing = "\n".join(f"  {value:10} {path}" for path, value in values.items())
            problems.append(f"the {what} differs between files:\n{listing}")
    if problems:
        print("versions.py: " + "\n".join(problems), file=sys.stderr)
        return 1
    print(next(iter(read(VERSION_SOURCES).values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
