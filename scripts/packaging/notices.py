#!/usr/bin/env python3
"""THIRD_PARTY_LICENSES.md for the packaged `volley`: the licenses of what is linked into it.

    notices.py SCRATCH > THIRD_PARTY_LICENSES.md     SCRATCH: the build folder (.build-package)

Linked in, so shipped with the binary: the Swift runtime (static), the Swift packages the
`volley` product uses (not swift-nio, swift-system, swift-atomics: only the fake server links
them), mimalloc and libcurl (the license files of the source packages scripts/package built),
and hiredis, nghttp2 and zlib (from their Debian packages' copyright files, whose static
archives are linked). Not listed: glibc, libstdc++, libssl and libcrypto, which the binary
loads from the system.
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
        "The `volley` binary links these in. It loads glibc, libstdc++, libssl and libcrypto "
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
    # The source packages scripts/package built from.
    for name, pattern in [("mimalloc", "LICENSE*"), ("curl", "COPYING")]:
        found = sorted((Path(sys.argv[1]) / name / "source" / name).glob(pattern))
        if not found:
            raise SystemExit(f"notices.py: no {pattern} in the unpacked {name} source package")
        parts.append(section("libcurl" if name == "curl" else name, found[0].read_text()))
    # The static archives linked from Debian's -dev packages: their copyright files.
    for title, package in [("hiredis", "libhiredis-dev"), ("nghttp2", "libnghttp2-14"), ("zlib", "zlib1g")]:
        path = Path("/usr/share/doc") / package / "copyright"
        if not path.is_file():
            raise SystemExit(f"notices.py: no {path}")
        parts.append(section(title, path.read_text()))
    print("\n".join(parts), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
