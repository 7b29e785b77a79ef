"""Shared test setup: the library from src/ (no install needed) and the built sidecar binary.

The binary is $VOLLEY_BIN, else the checkout's .build/debug/volley (then release). Every test
that needs it runs it offline on the built-in mock provider; OPENAI_API_KEY and
ANTHROPIC_API_KEY are removed from the sidecar's environment so nothing reaches the network.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any, Awaitable, Optional, TypeVar

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
    """A mock item scripted with the `mock` object (latency_ms, reply, fail, ...)."""
    key = script.pop("key", None)
    options = {name: script.pop(name) for name in ("timeout", "max_retries", "provider") if name in script}
    options.setdefault("provider", "mock")
    return volley.chat(prompt, model="m", key=key, mock=script or None, **options)


def process_gone(pid: int) -> bool:
    """True when no process with this pid exists, not even a zombie waiting to be reaped."""
    return not os.path.exists(f"/proc/{pid}")
