#!/usr/bin/env python3
"""A platform wheel of the Python client with the `volley` binary inside.

    wheel.py --binary PATH --notices FILE --platform linux_x86_64 --epoch SECONDS --out DIR

Writes DIR/volley-VERSION-py3-none-PLATFORM.whl: the package of clients/python/src/volley, the
binary as volley/bin/volley (mode 0755), and a `volley` console entry point that runs it
(volley._binary:main), so `pip install` puts `volley` on the environment's PATH. The metadata
comes from clients/python/pyproject.toml and README.md.

Written here rather than by setuptools' bdist_wheel: the wheel holds a prebuilt binary, which
makes it a platform wheel (Root-Is-Purelib: false, a platform tag) and needs the entry point a
source install must not have (it would find itself on PATH). Building it by hand also needs no
build backend from PyPI and gives the same bytes for the same inputs (every file dated --epoch).

The tag is linux_ARCH, not manylinux: manylinux promises that the wheel needs no library outside
a short list (glibc, libstdc++, ...), and this binary loads libcurl and libcrypto from the system
(see docs/packaging.md). pip installs linux_* wheels from a file or a private index; PyPI would
refuse them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import sys
import time
import zipfile
from pathlib import Path
from typing import List, Tuple

try:
    import tomllib
except ImportError:  # Python < 3.11
    raise SystemExit("wheel.py needs Python 3.11 or later (tomllib)")

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"


def metadata(project: dict, readme: str) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
        "License: MIT",
        f"Requires-Python: {project['requires-python']}",
    ]
    lines += [f"Classifier: {c}" for c in project.get("classifiers", [])]
    lines += [f"Requires-Dist: {d}" for d in project.get("dependencies", [])]
    for extra, requirements in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {r}; extra == "{extra}"' for r in requirements]
    lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n" + readme


def record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, type=Path)
    parser.add_argument("--notices", required=True, type=Path)
    parser.add_argument("--platform", required=True, help="e.g. linux_x86_64")
    parser.add_argument("--epoch", required=True, type=int, help="every file's time, in seconds")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()

    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    dist_info = f"{name}-{version}.dist-info"

    # (path in the wheel, bytes, executable)
    files: List[Tuple[str, bytes, bool]] = []
    package = CLIENT / "src" / "volley"
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files.append((f"volley/{path.relative_to(package).as_posix()}", path.read_bytes(), False))
    if any(p == "volley/bin/volley" for p, _, _ in files):
        raise SystemExit(f"wheel.py: {package}/bin/volley exists in the source tree; remove it")
    files.append(("volley/bin/volley", args.binary.read_bytes(), True))
    files += [
        (f"{dist_info}/METADATA", metadata(project, (CLIENT / "README.md").read_text()).encode(), False),
        (f"{dist_info}/WHEEL", (
            "Wheel-Version: 1.0\n"
            "Generator: volley scripts/packaging/wheel.py\n"
            "Root-Is-Purelib: false\n"
            f"Tag: py3-none-{args.platform}\n").encode(), False),
        (f"{dist_info}/entry_points.txt", b"[console_scripts]\nvolley = volley._binary:main\n", False),
        (f"{dist_info}/top_level.txt", b"volley\n", False),
        (f"{dist_info}/LICENSE", (ROOT / "LICENSE").read_bytes(), False),
        (f"{dist_info}/THIRD_PARTY_LICENSES.md", args.notices.read_bytes(), False),
    ]
    record = "\n".join(record_line(p, data) for p, data, _ in files) + f"\n{dist_info}/RECORD,,\n"
    files.append((f"{dist_info}/RECORD", record.encode(), False))

    date_time = time.gmtime(max(args.epoch, 315532800))[:6]  # zip dates start in 1980
    out = args.out / f"{name}-{version}-py3-none-{args.platform}.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as wheel:
        for path, data, executable in files:
            info = zipfile.ZipInfo(path, date_time=date_time)
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
    out.write_bytes(buffer.getvalue())
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
