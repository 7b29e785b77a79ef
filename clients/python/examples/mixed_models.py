"""Different models and parameters per call (the article's FAQ, on Volley).

Before: pass different arguments to each coroutine:
``asyncio.gather(call_openai(client, p1, model="gpt-4o"), call_openai(client, p2, model="gpt-4o-mini"))``.
After: each item carries its own model and request parameters (anything the chat-completions
body takes: ``temperature``, ``max_tokens``, ``tools``, ...), and its own provider when you have
several; the sidecar keeps separate limits per provider and model, so a slow, tightly limited
model never holds up a fast one.

Runs offline on Volley's built-in ``mock`` provider, which reports the model it was asked for.
With ``OPENAI_API_KEY`` set it calls OpenAI's ``gpt-4o`` and ``gpt-4o-mini``. It checks its own
output.

    python examples/mixed_models.py
"""

import asyncio
import os

import volley

ONLINE = bool(os.environ.get("OPENAI_API_KEY"))
PROVIDER = "openai" if ONLINE else "mock"


async def main() -> None:
    items = [
        volley.chat("Draft a careful answer: why is the sky blue?", model="gpt-4o", temperature=0.2, max_tokens=200),
        volley.chat("One-line answer: why is the sky blue?", model="gpt-4o-mini", temperature=0.9, max_tokens=40),
        volley.chat("Translate 'sky' to German.", model="gpt-4o-mini", system="Answer with one word.", max_tokens=5),
    ]
    # Tighter limits for the bigger model only (per-model limits under `models`).
    providers = {PROVIDER: {"models": {"gpt-4o": {"limits": {"concurrency": 2, "rpm": 60}}}}}
    async with volley.Volley(providers=providers, default_provider=PROVIDER) as v:
        results = await v.gather(items)
        limiters = (await v.stats())["limiters"]

    for item, result in zip(items, results):
        print(f"{item['request']['model']:>12} -> {result.model}: {result.text[:60]!r}")
    print("limiters:", ", ".join(sorted(limiters)))

    for item, result in zip(items, results):
        assert result.text and result.model.startswith(item["request"]["model"])
    assert f"{PROVIDER}/gpt-4o" in limiters and f"{PROVIDER}/gpt-4o-mini" in limiters
    if not ONLINE:
        assert limiters[f"{PROVIDER}/gpt-4o"]["concurrency"] == 2


if __name__ == "__main__":
    asyncio.run(main())
