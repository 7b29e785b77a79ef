#!/usr/bin/env python3
"""THIRD_PARTY_LICENSES.md for the packaged `volley`: the licenses of what is linked into it.

    notices.py SCRATCH > THIRD_PARTY_LICENSES.md     SCRATCH: the build folder (.build-package)

Linked in, so shipped with the binary: the Swift runtime (static), the Swift packages the
`volley` product uses (not swift-nio, swift-system, swift-atomics: only the fake server links
them), and mimalloc (the LICENSE of the source package scripts/package compiled). Not listed:
glibc, libstdc++, libcurl and libcrypto, which the binary loads from the system.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The packages of Package.swift that end up in `volley` (hdrhistogram-swift brings swift-numerics).
PACKAGES = ["swift-argument-parser", "swift-log", "swift-collections", "hdrhistogram-swift", "swift-numerics"]



def swift_runtime_license() -> Path:
    """The toolchain's LICENSE.txt (Apache 2.0 with the Runtime Library Exception)."""
    import shutil

    swift = shutil.which("swift")
    if swift is None:
        raise SystemExit("notices.py: swift is not on PATH")
    path = Path(swift).resolve().parents[1] / "share" / "swift" / "LICENSE.txt"
    if not path.is_file():
        raise SystemExit(f"notices.py: no {path}")
    return path


def section(title: str, text: str) -> str:
    return f"## {title}\n\n```\n{text.rstrip()}\n```\n"


def main() -> int:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    checkouts = Path(sys.argv[1]) / "checkouts"
    parts = [
        "# Third-party licenses\n\n"
        "The `volley` binary links these in. It loads glibc, libstdc++, libcurl and libcrypto "
        "(OpenSSL) from the system; their licenses come with the system's packages.\n",
        section("Swift runtime and standard library (swift.org)", swift_runtime_license().read_text()),
    ]
    for package in PACKAGES:
        directory = checkouts / package
        files = sorted(p for p in directory.iterdir() if p.name.upper().startswith(("LICENSE", "NOTICE")))
        if not files:
            raise SystemExit(f"notices.py: no LICENSE in {directory}")
        for path in files:
            parts.append(section(f"{package} ({path.name})", path.read_text()))
    # The source package scripts/package compiled mimalloc from.
    mimalloc = sorted((Path(sys.argv[1]) / "mimalloc" / "apt" / "source" / "mimalloc").glob("LICENSE*"))
    if not mimalloc:
        raise SystemExit("notices.py: no mimalloc LICENSE in the unpacked source package")
    parts.append(section("mimalloc", mimalloc[0].read_text()))
    print("\n".join(parts), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
