#!/usr/bin/env python3
"""An npm tarball of the Node client with the `volley` binary inside, without npm.

    npm_pack.py --binary PATH --notices FILE --cpu x64 --epoch SECONDS --out FILE.tgz

The layout `npm pack` writes: a gzipped tar whose every path starts with `package/`, files only,
owned by 0:0. Holds the files package.json's `files` names (src/, index.d.ts, README.md), the
LICENSE, the third-party notices, and the binary as bin/volley (0755). The package.json packed is
clients/node/package.json plus `"bin": {"volley": "bin/volley"}` (npm links it into
node_modules/.bin), `"os": ["linux"]` and `"cpu"`, so npm refuses the package, saying why, on
another platform, and without `scripts` (the tests are not packed). `npm install ./FILE.tgz` installs it with no registry.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import List, Tuple

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "node"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, type=Path)
    parser.add_argument("--notices", required=True, type=Path)
    parser.add_argument("--cpu", required=True, help="Node's name of the architecture: x64, arm64")
    parser.add_argument("--epoch", required=True, type=int, help="every file's time, in seconds")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()

    manifest = json.loads((CLIENT / "package.json").read_text())
    if (CLIENT / "bin").exists():
        raise SystemExit(f"npm_pack.py: {CLIENT}/bin exists in the source tree; remove it")
    sources = manifest["files"]
    manifest["files"] = [*sources, "bin/", "LICENSE", "THIRD_PARTY_LICENSES.md"]
    manifest["bin"] = {"volley": "bin/volley"}
    manifest["os"] = ["linux"]
    manifest["cpu"] = [args.cpu]
    manifest.pop("scripts", None)  # `npm test` runs the checkout's tests, which are not packed

    # (path under package/, bytes, executable)
    files: List[Tuple[str, bytes, bool]] = [("package.json", (json.dumps(manifest, indent=2) + "\n").encode(), False)]
    for entry in sources:
        path = CLIENT / entry.rstrip("/")
        if entry.endswith("/"):
            if path.is_dir():
                files += [(p.relative_to(CLIENT).as_posix(), p.read_bytes(), False)
                          for p in sorted(path.rglob("*")) if p.is_file()]
        elif path.is_file():
            files.append((entry, path.read_bytes(), False))
    files += [
        ("LICENSE", (ROOT / "LICENSE").read_bytes(), False),
        ("THIRD_PARTY_LICENSES.md", args.notices.read_bytes(), False),
        ("bin/volley", args.binary.read_bytes(), True),
    ]

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, data, executable in sorted(files):
            info = tarfile.TarInfo(f"package/{path}")
            info.size = len(data)
            info.mode = 0o755 if executable else 0o644
            info.mtime = args.epoch
            tar.addfile(info, io.BytesIO(data))
    with open(args.out, "wb") as out, gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as packed:
        packed.write(raw.getvalue())
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
