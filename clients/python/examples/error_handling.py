"""Error handling with return_exceptions (the article's second example, on Volley).

Before: ``asyncio.gather(..., return_exceptions=True)`` and a loop that checks
``isinstance(result, Exception)``, where the exception is whatever httpx raised. After: the
same call shape, but every failure is a typed exception (``HTTPError``, ``RateLimited``,
``QuotaExceeded``, ``Timeout``, ...) carrying ``status``, ``attempts``, ``index`` and ``key``,
and transient failures were already retried by the sidecar.

Runs offline on Volley's built-in ``mock`` provider, where two prompts are scripted to fail
(a 404 and an exhausted quota). With ``OPENAI_API_KEY`` set it calls OpenAI's ``gpt-4o-mini``,
and the second prompt names a model that does not exist, so it fails for real with HTTP 404.
It checks its own output.

    python examples/error_handling.py
"""

import asyncio
import os
from typing import List

import volley

ONLINE = bool(os.environ.get("OPENAI_API_KEY"))


def offline(**script: object) -> object:
    """How the mock provider should behave for this item; nothing is sent online."""
    return None if ONLINE else script


async def main() -> None:
    items = [
        volley.chat("Name three prime numbers."),
        volley.chat("This model does not exist.", model="no-such-model", mock=offline(fail="http", status=404)),
        volley.chat("Say hello in French."),
        volley.chat("Out of credit?", mock=offline(fail="quota_exceeded")),
        volley.chat("Say goodbye in Spanish."),
    ]
    if ONLINE:
        del items[3]  # a real account is not out of credit on demand

    async with volley.Volley(default_provider="openai" if ONLINE else "mock", model="gpt-4o-mini") as v:
        results = await v.gather(items, return_exceptions=True)

    processed: List[str] = []
    for i, result in enumerate(results):
        if isinstance(result, volley.VolleyError):
            print(f"Prompt {i} failed: {type(result).__name__} (HTTP {result.status}, "
                  f"{result.attempts} attempt(s)): {result.message}")
            processed.append(f"[ERROR] {type(result).__name__}")
        else:
            processed.append(result.text)
    print(processed)

    assert processed[1] == "[ERROR] HTTPError" and results[1].status == 404
    assert results[1].index == 1 and not results[1].retryable
    assert all(not p.startswith("[ERROR]") for i, p in enumerate(processed) if i not in (1, 3))
    if not ONLINE:
        assert processed[3] == "[ERROR] QuotaExceeded" and results[3].status == 429
        assert results.stats.succeeded == 3 and results.stats.failed == 2


if __name__ == "__main__":
    asyncio.run(main())
