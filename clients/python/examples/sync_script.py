"""Volley from synchronous code: a script or a notebook cell, no asyncio in sight.

``volley.run_gather(items, ...)`` starts a sidecar, runs one batch and stops it;
``with volley.SyncVolley() as v:`` keeps one sidecar for many calls. Both run their own event
loop on a private thread, so they also work inside Jupyter, where a loop is already running.

Runs offline on Volley's built-in ``mock`` provider. With ``OPENAI_API_KEY`` set it calls
OpenAI's ``gpt-4o-mini``. It checks its own output.

    python examples/sync_script.py
"""

import os

import volley

ONLINE = bool(os.environ.get("OPENAI_API_KEY"))
OPTIONS = {"default_provider": "openai" if ONLINE else "mock", "model": "gpt-4o-mini"}


def main() -> None:
    questions = ["What is 2 + 2?", "Name a colour.", "Name a planet."]

    results = volley.run_gather([volley.chat(q, max_tokens=20) for q in questions], **OPTIONS)
    for question, result in zip(questions, results):
        print(f"{question} -> {result.text[:60]!r}")
    assert len(results) == 3 and all(r.text for r in results)

    with volley.SyncVolley(**OPTIONS) as v:
        answer = v.call("Say 'ready'.", max_tokens=5)
        finished = [outcome.index for outcome in v.as_completed(questions)]
    print(f"call: {answer.text!r}; as_completed order: {finished}")
    assert answer.text and sorted(finished) == [0, 1, 2]


if __name__ == "__main__":
    main()
