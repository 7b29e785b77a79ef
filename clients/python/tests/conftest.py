"""Shared test setup: the library from src/ (no install needed) and the built sidecar binary.

The binary is $VOLLEY_BIN, else the checkout's .build/debug/volley (then release). Every test
that needs it runs it offline on the built-in mock provider; OPENAI_API_KEY and
ANTHROPIC_API_KEY are removed from the sidecar's environment so nothing reaches the network.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, List, Optional, TypeVar

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PACKAGE_ROOT / "src"))

import volley  # noqa: E402

T = TypeVar("T")

OFFLINE_ENV = {"OPENAI_API_KEY": None, "ANTHROPIC_API_KEY": None}


def _binary() -> Optional[str]:
    env = os.environ.get("VOLLEY_BIN")
    if env:
        return env
    checkout = volley.find_checkout()
    if checkout is None:
        return None
    for config in ("debug", "release"):
        candidate = checkout / ".build" / config / "volley"
        if candidate.is_file():
            return str(candidate)
    return None


BINARY = _binary()


@pytest.fixture(scope="session")
def binary() -> str:
    if BINARY is None:
        pytest.fail("no volley binary: run `swift build --product volley` or set VOLLEY_BIN")
    return BINARY


def run(coroutine: Awaitable[T], timeout: float = 60.0) -> T:
    """Run one async test body on a fresh loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))  # type: ignore[arg-type]


def make_volley(binary: str, **options: Any) -> volley.Volley:
    env = dict(OFFLINE_ENV)
    env.update(options.pop("env", {}))
    return volley.Volley(binary=binary, env=env, **options)


def mock(prompt: str = "hi", **script: Any) -> volley.Item:
    """A mock item scripted with the `mock` object (latency_ms, reply, fail, ...); `key`,
    `timeout`, `max_retries`, `provider` and `stream` are item options."""
    key = script.pop("key", None)
    options = {name: script.pop(name) for name in ("timeout", "max_retries", "provider", "stream") if name in script}
    options.setdefault("provider", "mock")
    return volley.chat(prompt, model="m", key=key, mock=script or None, **options)


def process_gone(pid: int) -> bool:
    """True when no process with this pid exists, not even a zombie waiting to be reaped."""
    return not os.path.exists(f"/proc/{pid}")


def daemons(path: str) -> List[int]:
    """Pids of the live (not zombie) `volley serve --socket PATH` processes for this path."""
    wanted = os.fsencode(path)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                argv = file.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as file:
                state = file.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != b"Z" and b"--socket" in argv and argv.index(b"--socket") + 1 < len(argv):
            if argv[argv.index(b"--socket") + 1] == wanted:
                found.append(int(entry))
    return sorted(found)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds saying ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


def kill_daemons(path: str) -> None:
    """SIGKILL every daemon serving ``path`` (tests start them; none may outlive its test)."""
    for pid in daemons(path):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until(lambda: not daemons(path), 10, f"the daemons of {path} to die")
