"""Token streaming: print an answer as it is written, and several answers side by side.

``v.stream(prompt)`` yields the answer's pieces (``Delta``) as the provider writes them; after
the loop ``stream.result`` is the whole ``Result``, with ``ttft_ms`` (time to first token). If an
attempt is cut mid-answer and retried, a ``Reset`` says "start over": ``stream.text`` is then
the new attempt's text, never the two run together. ``as_completed(items, deltas=True)`` does
the same for a batch, each event tagged with its item's index.

Runs offline on Volley's built-in ``mock`` provider, which streams its scripted reply in pieces
of 4 characters and, for the second answer, cuts the first attempt after two pieces. With
``OPENAI_API_KEY`` set it calls OpenAI's ``gpt-4o-mini``. It checks its own output.

    python examples/streaming.py
"""

import asyncio
import collections
import os

import volley

ONLINE = bool(os.environ.get("OPENAI_API_KEY"))
POEM = "Queues hum in the dark,\nrequests wait their turn in line,\ntokens drip like rain."


def offline(**script: object) -> object:
    """How the mock provider should behave for this item; nothing is sent online."""
    return None if ONLINE else script


async def main() -> None:
    provider = "openai" if ONLINE else "mock"
    # Fast retries for the cut stream below (the mock's default backoff is 0.5 s).
    providers = {} if ONLINE else {"mock": {"kind": "mock", "retry": {"initial_delay": 0.05}}}
    async with volley.Volley(default_provider=provider, model="gpt-4o-mini", providers=providers) as v:
        # One answer, printed as it comes.
        stream = v.stream("Write a haiku about queues.", max_tokens=60,
                          mock=offline(reply=POEM, chunk_delay_ms=10))
        pieces = 0
        async for delta in stream:
            print(delta.text, end="", flush=True)
            pieces += 1
        result = stream.result
        assert result is not None
        print(f"\n({pieces} pieces, first after {result.ttft_ms} ms, {result.usage.output_tokens} tokens)")
        assert result.text == stream.text and pieces > 1
        if not ONLINE:
            assert result.text == POEM

        # A stream cut mid-answer and retried: the Reset says to start over.
        shown = ""
        stream = v.stream("Count from one to five.", max_tokens=30,
                          mock=offline(reply="one two three four five", chunk_delay_ms=10,
                                       fail="connection", fail_attempts=1, fail_after_chunks=2))
        async for delta in stream:
            if delta.reset:
                print(f" <- cut after {len(shown)} characters; retrying")
                shown = ""
            else:
                print(delta.text, end="", flush=True)
                shown += delta.text
        print()
        assert stream.result is not None and shown == stream.text == stream.result.text
        if not ONLINE:
            assert stream.resets == 1 and stream.text == "one two three four five"

        # Several answers at once: each event carries its item's index.
        topics = ["rivers", "mountains", "cities"]
        items = [volley.chat(f"One sentence about {t}.", key=t, max_tokens=40,
                             mock=offline(reply=f"A sentence about {t}.", chunk_delay_ms=5 + 5 * i))
                 for i, t in enumerate(topics)]
        answers = collections.defaultdict(volley.StreamAssembler)
        async for event in v.as_completed(items, deltas=True):
            if isinstance(event, volley.Outcome):
                text = event.result().text
                print(f"{event.key}: {text!r} (first token after {event.ttft_ms} ms)")
                assert answers[event.index].text == text
            else:
                answers[event.index].add(event)
        assert sorted(answers) == [0, 1, 2]


if __name__ == "__main__":
    asyncio.run(main())
