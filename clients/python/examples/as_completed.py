"""Processing results as they arrive (the article's FAQ: "use asyncio.as_completed()").

Before: ``asyncio.as_completed`` over coroutines, which yields awaitables with no way to tell
which prompt each one belongs to, and leaves the rest running if you stop early. After:
``async for outcome in v.as_completed(items)`` yields each item's ``Outcome`` the moment the
sidecar has it, with its ``index`` and ``key``, success or typed error. Leaving the loop early
cancels the rest of the batch in the sidecar: "first answer wins" costs nothing extra.

Runs offline on Volley's built-in ``mock`` provider, with latencies scripted so the items finish
in a known order and one fails. With ``OPENAI_API_KEY`` set it calls OpenAI's ``gpt-4o-mini``.
It checks its own output.

    python examples/as_completed.py
"""

import asyncio
import os

import volley

ONLINE = bool(os.environ.get("OPENAI_API_KEY"))


def offline(**script: object) -> object:
    """How the mock provider should behave for this item; nothing is sent online."""
    return None if ONLINE else script


async def main() -> None:
    latencies = {"essay": 600, "haiku": 100, "limerick": 300, "broken": 200}
    items = [
        volley.chat(f"Write a short {kind} about the sea.", key=kind, max_tokens=200,
                    mock=offline(latency_ms=ms, **({"fail": "http", "status": 500, "fail_attempts": 9} if kind == "broken" else {})))
        for kind, ms in latencies.items()
    ]
    if ONLINE:
        items.pop()  # nothing fails on demand online

    async with volley.Volley(default_provider="openai" if ONLINE else "mock", model="gpt-4o-mini") as v:
        order = []
        async for outcome in v.as_completed(items):
            order.append(outcome.key)
            if outcome.ok:
                print(f"{outcome.key} done after {outcome.latency_ms:.0f} ms: {outcome.value.text[:60]!r}")
            else:
                print(f"{outcome.key} failed after {outcome.attempts} attempts: {outcome.error!r}")
        assert sorted(order) == sorted(item["key"] for item in items), "every item exactly once"
        if not ONLINE:
            # "broken" takes 3 attempts of 200 ms plus backoff: it ends last.
            assert order == ["haiku", "limerick", "essay", "broken"]

        # First answer wins: stop at the first success; the others are cancelled in the sidecar.
        racers = [volley.chat("Reply with one word: yes or no?", key=f"racer-{i}", max_tokens=5,
                              mock=offline(latency_ms=100 + 1000 * i)) for i in range(3)]
        async with v.as_completed(racers) as outcomes:
            async for outcome in outcomes:
                if outcome.ok:
                    winner = outcome
                    break
        stats = await v.stats()
        print(f"winner: {winner.key}; cancelled in the sidecar: {stats['cancelled']}")
        if not ONLINE:
            assert winner.key == "racer-0" and stats["cancelled"] == 2


if __name__ == "__main__":
    asyncio.run(main())
