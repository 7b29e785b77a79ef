"""The blocking facade: SyncVolley and run_gather, from plain code and from inside a loop."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest

import volley
from conftest import OFFLINE_ENV, mock


def test_sync_volley(binary: str) -> None:
    with volley.SyncVolley(binary=binary, env=OFFLINE_ENV) as v:
        results = v.gather([mock("a", latency_ms=100), mock("b", fail="http", status=400)], return_exceptions=True)
        assert results[0].text == "Mock reply to: a"
        assert isinstance(results[1], volley.HTTPError)
        assert v.call(mock("c")).text == "Mock reply to: c"
        with pytest.raises(volley.RateLimited):
            v.call(mock("d", fail="rate_limited", max_retries=0))
        seen = [o.index for o in v.as_completed([mock("slow", latency_ms=200), mock("fast", latency_ms=10)])]
        assert seen == [1, 0]
        # Leaving the generator early cancels the rest.
        for outcome in v.as_completed([mock("fast", latency_ms=10), mock("slow", latency_ms=5000)]):
            break
        assert v.stats()["cancelled"] == 1
        assert v.ping() >= 0
        pid = v.volley.pid
    assert pid is not None


def test_run_gather(binary: str) -> None:
    results = volley.run_gather(
        [mock("x"), mock("y", fail="overloaded", max_retries=0)],
        return_exceptions=True,
        concurrency=2,
        binary=binary,
        env=OFFLINE_ENV,
    )
    assert results[0].text == "Mock reply to: x"
    assert isinstance(results[1], volley.Overloaded)


def test_run_gather_inside_a_running_loop(binary: str) -> None:
    async def notebook_cell() -> None:
        # As in Jupyter: the caller is already on a running loop; the facade uses its own.
        results = volley.run_gather([mock("from a loop")], binary=binary, env=OFFLINE_ENV)
        assert results[0].text == "Mock reply to: from a loop"

    asyncio.run(notebook_cell())


def test_sync_interrupt_cancels_the_batch(binary: str) -> None:
    with volley.SyncVolley(binary=binary, env=OFFLINE_ENV) as v:
        # Ctrl-C while the main thread waits: a real SIGINT to this process (not the sidecar).
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            v.gather([mock("slow", latency_ms=5000)])
        assert time.monotonic() - started < 3.0
        assert v.stats()["cancelled"] == 1
