"""Per-call timeouts (the article's FAQ: "wrap slow calls with asyncio.wait_for").

Before: ``asyncio.wait_for(call_openai(...), timeout=5.0)`` around each coroutine; a timeout
abandons the coroutine on the host while the HTTP request may still be running. After: three
ways, all of which stop the work in the sidecar:

- ``timeout=`` on an item: seconds for that call, retries and waits included; it fails with
  ``volley.Timeout`` and the rest of the batch is unaffected.
- ``timeout=`` on ``gather``: seconds for the whole batch; unfinished items end
  ``volley.DeadlineExceeded``.
- ``asyncio.wait_for(v.call(...), 5.0)`` still works: the cancellation is sent to the sidecar,
  which aborts the request.

Runs offline on Volley's built-in ``mock`` provider, where the slow calls take 3 s. With
``OPENAI_API_KEY`` set it calls OpenAI's ``gpt-4o-mini`` and uses timeouts too short for any
real call (10 ms) to show the same failures. It checks its own output.

    python examples/timeouts.py
"""

import asyncio
import os
import time

import volley

ONLINE = bool(os.environ.get("OPENAI_API_KEY"))
SHORT = 0.01 if ONLINE else 0.5  # a timeout the slow call cannot meet


def offline(**script: object) -> object:
    """How the mock provider should behave for this item; nothing is sent online."""
    return None if ONLINE else script


async def main() -> None:
    async with volley.Volley(default_provider="openai" if ONLINE else "mock", model="gpt-4o-mini") as v:
        # 1. A timeout per item.
        start = time.monotonic()
        results = await v.gather(
            [
                volley.chat("A quick question.", max_tokens=20, mock=offline(latency_ms=50)),
                volley.chat("A slow question.", max_tokens=20, timeout=SHORT, mock=offline(latency_ms=3000)),
            ],
            return_exceptions=True,
        )
        print(f"per item: {results[0].text[:40]!r}, {results[1]!r} after {time.monotonic() - start:.2f}s")
        assert results[0].text and isinstance(results[1], volley.Timeout)

        # 2. A deadline for the whole batch.
        results = await v.gather(
            [volley.chat(f"Slow question {i}.", max_tokens=20, mock=offline(latency_ms=3000)) for i in range(3)],
            timeout=SHORT,
            return_exceptions=True,
        )
        print(f"per batch: {[type(r).__name__ for r in results]}")
        assert all(isinstance(r, volley.DeadlineExceeded) for r in results)

        # 3. asyncio.wait_for around a call: cancelled in the sidecar too.
        start = time.monotonic()
        try:
            await asyncio.wait_for(v.call("A slow call.", max_tokens=20, mock=offline(latency_ms=3000)), SHORT)
            raise AssertionError("the call should have timed out")
        except asyncio.TimeoutError:
            print(f"wait_for: timed out after {time.monotonic() - start:.2f}s")
        stats = await v.stats()
        print(f"cancelled in the sidecar: {stats['cancelled']}")
        if not ONLINE:
            assert stats["cancelled"] == 1 and stats["in_flight"] == 0


if __name__ == "__main__":
    asyncio.run(main())
