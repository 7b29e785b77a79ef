"""Rate limiting by configuration instead of chunking (the article's third example, on Volley).

Before: split the prompts into chunks of 5, gather each chunk, sleep a second between chunks,
so every chunk waits for its slowest call and a 429 still fails the item. After: hand the
sidecar all the prompts at once and say what the provider allows, in its ``limits``
(``concurrency``, ``rpm``, ``tpm``, also per model). The sidecar keeps 5 calls in flight at
every moment (a new one starts as soon as one finishes), and a 429 puts the whole provider
into cooldown (obeying Retry-After) before the item is retried, so the rest of the batch does
not stampede.

Runs offline on Volley's built-in ``mock`` provider (40 prompts, 0.1 s each, a few scripted
429s). With ``OPENAI_API_KEY`` set it sends 20 short prompts to OpenAI's ``gpt-4o-mini``.
It checks its own output.

    python examples/rate_limits.py
"""

import asyncio
import os
import time

import volley

ONLINE = bool(os.environ.get("OPENAI_API_KEY"))
PROVIDER = "openai" if ONLINE else "mock"
LIMITS = {"concurrency": 5, "rpm": 300}


def offline(**script: object) -> object:
    """How the mock provider should behave for this item; nothing is sent online."""
    return None if ONLINE else script


async def main() -> None:
    count = 20 if ONLINE else 40
    prompts = [f"Give one word that rhymes with the number {i}." for i in range(count)]
    # Every 10th prompt meets a 429 (retry-after 0.2 s) once, then succeeds.
    items = [
        volley.chat(p, max_tokens=10, mock=offline(fail="rate_limited", fail_attempts=1, retry_after=0.2) if i % 10 == 3 else None)
        for i, p in enumerate(prompts)
    ]
    provider = {"limits": LIMITS}
    if not ONLINE:
        provider.update(kind="mock", latency_ms=100)

    peak = 0
    async with volley.Volley(providers={PROVIDER: provider}, default_provider=PROVIDER, model="gpt-4o-mini") as v:

        async def watch(progress: volley.Progress) -> None:
            nonlocal peak
            peak = max(peak, (await v.stats())["in_flight"])
            print(f"{progress.done}/{progress.total} done")

        start = time.monotonic()
        results = await v.gather(items, progress=watch)
        elapsed = time.monotonic() - start
        stats = await v.stats()

    print(f"{len(results)} results in {elapsed:.2f}s, at most {peak} in flight, "
          f"{stats['rate_limited']} answers were 429 and were retried")

    assert len(results) == count and all(r.text for r in results)
    assert peak <= LIMITS["concurrency"]
    if not ONLINE:
        assert stats["rate_limited"] == count // 10 and stats["retries"] >= count // 10
        # 40 calls of 0.1 s, 5 at a time, cannot take less than 0.8 s.
        assert elapsed >= count / LIMITS["concurrency"] * 0.1 * 0.95


if __name__ == "__main__":
    asyncio.run(main())
