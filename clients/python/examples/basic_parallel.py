"""Basic parallel LLM calls (the article's first example, on Volley).

Before: an ``httpx.AsyncClient`` shared by hand, a ``call_openai`` coroutine that builds the
body, posts, raises for status and digs out ``choices[0].message.content``, and
``asyncio.gather`` over those coroutines. After: prompts in, texts out, in input order; the
sidecar owns the connection pool, the concurrency and the retries.

Runs offline on Volley's built-in ``mock`` provider (every reply takes 0.5 s). With
``OPENAI_API_KEY`` set it calls OpenAI's ``gpt-4o-mini`` instead. It checks its own output.

    python examples/basic_parallel.py
"""

import asyncio
import os
import time

import volley

ONLINE = bool(os.environ.get("OPENAI_API_KEY"))


async def main() -> None:
    prompts = [
        "Summarize the key benefits of microservices architecture.",
        "List 5 common Python antipatterns.",
        "Explain the CAP theorem in 3 sentences.",
        "What is the difference between OLTP and OLAP?",
    ]
    async with volley.Volley(
        default_provider="openai" if ONLINE else "mock",
        model="gpt-4o-mini",
        providers=None if ONLINE else {"mock": {"latency_ms": 500}},
    ) as v:
        start = time.monotonic()
        results = await v.gather([volley.chat(p, max_tokens=256) for p in prompts])
        elapsed = time.monotonic() - start

    for prompt, result in zip(prompts, results):
        print(f"Q: {prompt[:50]}...")
        print(f"A: {result.text[:100]}...\n")
    print(f"Total time: {elapsed:.2f}s for {len(prompts)} calls")

    assert len(results) == len(prompts) and all(r.text for r in results)
    if not ONLINE:
        assert [r.text for r in results] == [f"Mock reply to: {p}" for p in prompts]
        assert elapsed < 4 * 0.5, "the calls did not run in parallel"


if __name__ == "__main__":
    asyncio.run(main())
