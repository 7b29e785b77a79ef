"""Finding (or building) the ``volley`` executable.

Order: the ``binary=`` argument; the binary bundled in this package (``volley/bin/volley``, in
the platform wheel scripts/package makes); ``$VOLLEY_BIN``; ``volley`` on ``PATH``; then a Volley
checkout found by walking up from this package's directory (then from the current directory) to
a ``Package.swift`` that declares the ``volley`` product: its ``.build/release/volley``, then
``.build/debug/volley``; failing those, ``swift build --product volley`` in that checkout.

:func:`main` is the wheel's ``volley`` console command: it runs the bundled binary.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Iterator, NoReturn, Optional

__all__ = ["BinaryNotFound", "find_binary", "find_checkout", "bundled_binary", "main"]

#: Where the platform wheel puts the binary; a source install has none.
BUNDLED_BINARY = Path(__file__).resolve().parent / "bin" / "volley"


class BinaryNotFound(FileNotFoundError):
    """No ``volley`` executable was found and none could be built."""


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _parents(start: Path) -> Iterator[Path]:
    start = start.resolve()
    yield start
    yield from start.parents


def find_checkout() -> Optional[Path]:
    """The nearest directory above this package (or the cwd) whose Package.swift builds ``volley``."""
    seen = set()
    for start in (Path(__file__).parent, Path.cwd()):
        for directory in _parents(start):
            if directory in seen:
                break
            seen.add(directory)
            manifest = directory / "Package.swift"
            try:
                if manifest.is_file() and 'name: "volley"' in manifest.read_text(errors="replace"):
                    return directory
            except OSError:
                continue
    return None


def bundled_binary() -> Optional[str]:
    """The binary installed with this package (a platform wheel's), or ``None`` (a source install)."""
    return str(BUNDLED_BINARY) if _is_executable(BUNDLED_BINARY) else None


def _located(explicit: Optional[str]) -> Optional[str]:
    if explicit:
        path = Path(explicit).expanduser()
        if not _is_executable(path):
            found = shutil.which(explicit)
            if found is None:
                raise BinaryNotFound(f"volley binary {explicit!r} (binary=) is not an executable file")
            return found
        return str(path)
    bundled = bundled_binary()
    if bundled is not None:
        return bundled
    env = os.environ.get("VOLLEY_BIN")
    if env:
        path = Path(env).expanduser()
        if not _is_executable(path):
            raise BinaryNotFound(f"VOLLEY_BIN={env!r} is not an executable file")
        return str(path)
    on_path = shutil.which("volley")
    if on_path:
        return on_path
    checkout = find_checkout()
    if checkout is not None:
        for config in ("release", "debug"):
            candidate = checkout / ".build" / config / "volley"
            if _is_executable(candidate):
                return str(candidate)
    return None


async def find_binary(explicit: Optional[str] = None, *, build: bool = True) -> str:
    """The path of the ``volley`` executable to spawn; builds it from the checkout if needed.

    Raises :class:`BinaryNotFound` when there is none and no checkout to build it in (or the
    build fails). The build's own output goes to this process's stderr.
    """
    found = _located(explicit)
    if found is not None:
        return found
    checkout = find_checkout()
    swift = shutil.which("swift")
    if checkout is None or not build or swift is None:
        hint = "" if swift or checkout is None else " (a checkout was found but `swift` is not on PATH)"
        raise BinaryNotFound(
            "no volley binary: install the platform wheel that carries one (scripts/package makes it), "
            "pass binary=, set VOLLEY_BIN, put `volley` on PATH, or run "
            "`swift build --product volley` in a Volley checkout" + hint
        )
    print(
        f"volley: no built binary found; running `swift build --product volley` in {checkout} (once)",
        file=sys.stderr,
        flush=True,
    )
    process = await asyncio.create_subprocess_exec(
        swift, "build", "--product", "volley", cwd=str(checkout), stdout=sys.stderr.fileno()
        if _has_fileno(sys.stderr) else None
    )
    returncode = await process.wait()
    candidate = checkout / ".build" / "debug" / "volley"
    if returncode != 0 or not _is_executable(candidate):
        raise BinaryNotFound(f"`swift build --product volley` in {checkout} failed (exit code {returncode})")
    return str(candidate)


def _has_fileno(stream: object) -> bool:
    try:
        stream.fileno()  # type: ignore[attr-defined]
        return True
    except (AttributeError, OSError, ValueError):
        return False


def main() -> NoReturn:
    """The ``volley`` command of the platform wheel: replaces this process with the bundled binary.

    Only the wheel declares this entry point, and it runs only the bundled binary: a search of
    ``PATH`` would find this command itself.
    """
    binary = bundled_binary()
    if binary is None:
        print(f"volley: no binary at {BUNDLED_BINARY}: this installation of the volley package has none "
              "(install the platform wheel made by scripts/package)", file=sys.stderr)
        raise SystemExit(127)
    os.execv(binary, [binary, *sys.argv[1:]])
