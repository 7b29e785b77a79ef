"""Retries by configuration instead of hand-written backoff (the article's fourth example).

Before: ``call_with_retry``, a loop that catches ``httpx.HTTPStatusError``, reads
``retry-after``, sleeps ``base_delay * 2 ** attempt`` for 429 and 5xx and timeouts, and gives up
with a ``RuntimeError``. After: the provider's ``retry`` settings (``max_retries``,
``initial_delay``, ``max_delay``, ``max_retry_after``) and, per item, ``max_retries``. The
sidecar retries 408, 409, 429, 5xx, 529, connection errors and timeouts with exponential
backoff and jitter, obeys ``retry-after``, never waits past a deadline, and never retries what
cannot succeed (400, 401, 404, exhausted quota). Each outcome says how many attempts it took.

Runs offline on Volley's built-in ``mock`` provider, with failures scripted per item (429s
with retry-after, a 503, a timeout). With ``OPENAI_API_KEY`` set it calls OpenAI's
``gpt-4o-mini``, where retries happen only if OpenAI really fails. It checks its own output.

    python examples/retries.py
"""

import asyncio
import os

import volley

ONLINE = bool(os.environ.get("OPENAI_API_KEY"))
PROVIDER = "openai" if ONLINE else "mock"
RETRY = {"max_retries": 3, "initial_delay": 0.1, "max_delay": 2.0, "max_retry_after": 30}


def offline(**script: object) -> object:
    """How the mock provider should behave for this item; nothing is sent online."""
    return None if ONLINE else script


async def main() -> None:
    items = [
        volley.chat("Plain call.", key="plain"),
        volley.chat("Two 429s first.", key="429x2", mock=offline(fail="rate_limited", fail_attempts=2, retry_after=0.2)),
        volley.chat("One 503 first.", key="503", mock=offline(fail="overloaded", status=503, fail_attempts=1)),
        volley.chat("One timeout first.", key="timeout", mock=offline(fail="timeout", fail_attempts=1)),
    ]
    provider = {"retry": RETRY}
    if not ONLINE:
        provider["kind"] = "mock"

    async with volley.Volley(providers={PROVIDER: provider}, default_provider=PROVIDER, model="gpt-4o-mini") as v:
        results = await v.gather(items)
        for outcome in results.outcomes:
            print(f"{outcome.key}: {outcome.attempts} attempt(s), {outcome.latency_ms:.0f} ms: {outcome.value}")

        # One item may override the provider's setting: no retries for this one.
        try:
            await v.call(volley.chat("No second chance.", max_retries=0,
                                     mock=offline(fail="rate_limited", fail_attempts=1)))
            gave_up = None
        except volley.RateLimited as error:
            gave_up = error
            print(f"gave up at once: {error!r}")
        stats = await v.stats()
    print(f"retries: {stats['retries']}, 429s seen: {stats['rate_limited']}")

    assert all(r.text for r in results)
    if not ONLINE:
        assert [o.attempts for o in results.outcomes] == [1, 3, 2, 2]
        assert gave_up is not None and gave_up.status == 429
        assert stats["retries"] == 4 and stats["rate_limited"] == 3


if __name__ == "__main__":
    asyncio.run(main())
