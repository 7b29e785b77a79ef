"""Cancellation: task.cancel, asyncio.wait_for, leaving as_completed early, shutdown(cancel)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict

import volley
from conftest import make_volley, mock, run


async def settled_stats(v: volley.Volley, **expected: int) -> Dict[str, Any]:
    """stats once nothing is in flight (no item, no batch still closing: its last outcome is
    counted a moment before the batch ends) and the expected counters are reached (bounded wait)."""
    deadline = time.monotonic() + 5.0
    while True:
        stats = await v.stats()
        if stats["in_flight"] == 0 and stats["batches_active"] == 0 and all(stats[k] >= n for k, n in expected.items()):
            return stats
        if time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.02)


def test_cancelling_a_running_gather_cancels_its_items(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            task = asyncio.ensure_future(v.gather([mock(f"s{i}", latency_ms=5000) for i in range(6)]))
            await asyncio.sleep(0.3)
            assert (await v.stats())["in_flight"] == 6
            started = time.monotonic()
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            else:
                raise AssertionError("the gather was not cancelled")
            assert time.monotonic() - started < 2.0
            # The -32800 reply was consumed before the cancellation went through.
            stats = await v.stats()
            assert stats["cancelled"] == 6, stats
            assert stats["in_flight"] == 0 and stats["batches_active"] == 0
            # The client is still usable.
            assert (await v.call(mock("after"))).text == "Mock reply to: after"

    run(body())


def test_wait_for_timeout_cancels_the_call(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            started = time.monotonic()
            try:
                await asyncio.wait_for(v.call(mock("slow", latency_ms=5000)), 0.2)
            except asyncio.TimeoutError:
                pass
            else:
                raise AssertionError("no timeout")
            assert time.monotonic() - started < 2.0
            stats = await settled_stats(v, cancelled=1)
            assert stats["cancelled"] == 1 and stats["batches_active"] == 0

    run(body())


def test_breaking_out_of_as_completed_sends_cancel(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            items = [mock("fast", latency_ms=10)] + [mock(f"slow{i}", latency_ms=5000) for i in range(4)]
            async for outcome in v.as_completed(items):
                assert outcome.index == 0
                break
            stats = await settled_stats(v, cancelled=4)
            assert stats["cancelled"] == 4 and stats["completed"] == 1 and stats["batches_active"] == 0

            # The context-manager form awaits the cancel's reply before the block ends.
            async with v.as_completed(items) as outcomes:
                async for outcome in outcomes:
                    break
            stats = await v.stats()
            assert stats["cancelled"] == 8 and stats["batches_active"] == 0

    run(body())


def test_cancelling_the_task_iterating_as_completed(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            seen = []

            async def consume() -> None:
                async for outcome in v.as_completed([mock("a", latency_ms=10), mock("b", latency_ms=5000)]):
                    seen.append(outcome.index)

            task = asyncio.ensure_future(consume())
            await asyncio.sleep(0.3)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            assert seen == [0]
            stats = await v.stats()
            assert stats["cancelled"] == 1 and stats["batches_active"] == 0

    run(body())


def test_shutdown_with_cancel_settles_pending_gathers(binary: str) -> None:
    async def body() -> None:
        v = make_volley(binary)
        await v.start()
        task = asyncio.ensure_future(
            v.gather([mock("quick", latency_ms=10), mock("slow", latency_ms=5000)], return_exceptions=True)
        )
        await asyncio.sleep(0.3)
        pid = v.pid
        await v.aclose(mode="cancel")
        results = await task
        # Not cancelled by this task: the outcomes come back, the unfinished one as Cancelled.
        assert results[0].text == "Mock reply to: quick"
        assert isinstance(results[1], volley.Cancelled)
        assert pid is not None
        try:
            await v.call("closed")
        except volley.VolleyError as error:
            assert "closed" in str(error)
        else:
            raise AssertionError("a closed Volley accepted a call")

    run(body())
