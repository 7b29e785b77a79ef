"""Embeddings for 10,000 texts, and the other endpoints (Responses API, raw calls).

Before: split the texts into chunks of at most 2,048 by hand, ``asyncio.gather`` one POST per
chunk, parse megabytes of JSON numbers, put the vectors back in order, and retry what hit a
rate limit. After: ``await v.embed(texts)``. The sidecar runs the chunks concurrently under the
provider's limits, with retries; the vectors travel as base64 float32 (4x smaller than JSON
numbers) and are decoded with the standard library, or with numpy into one array when it is
installed.

Runs offline on Volley's built-in ``mock`` provider, whose vectors are deterministic unit
vectors (the same text, the same vector). With ``OPENAI_API_KEY`` set it calls OpenAI's
``text-embedding-3-small`` and ``gpt-4o-mini`` instead. It checks its own output.

    python examples/embeddings.py
"""

import asyncio
import math
import os
import time
from typing import List, Sequence

import volley

ONLINE = bool(os.environ.get("OPENAI_API_KEY"))
PROVIDER = "openai" if ONLINE else "mock"
EMBEDDING_MODEL = "text-embedding-3-small"
DIMENSIONS = 64
BATCH = 256  # texts per embeddings call (the default of v.embed)
# Offline: no simulated latency, so the example takes a second or two.
SCRIPT = None if ONLINE else {"latency_ms": 0}


def dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def nearest(query: Sequence[float], vectors: List[List[float]], n: int) -> List[int]:
    """The indices of the ``n`` vectors most similar to ``query`` (cosine: they have unit length)."""
    return sorted(range(len(vectors)), key=lambda i: dot(query, vectors[i]), reverse=True)[:n]


async def main() -> None:
    topics = ["databases", "networking", "compilers", "gardening", "astronomy", "cooking", "music", "chess"]
    texts = [f"note {i} about {topics[i % len(topics)]}" for i in range(10_000)]

    async with volley.Volley(default_provider=PROVIDER, model="gpt-4o-mini") as v:
        start = time.monotonic()
        vectors = await v.embed(texts, model=EMBEDDING_MODEL, dimensions=DIMENSIONS, batch_size=BATCH, mock=SCRIPT)
        elapsed = time.monotonic() - start
        print(f"{len(vectors)} texts embedded in {elapsed:.2f}s ({DIMENSIONS} dimensions, "
              f"{math.ceil(len(texts) / BATCH)} calls of up to {BATCH} texts)")

        # Search: embed a query on its own and find its nearest texts. The query is one of the
        # texts, so the best match is that text (the same text, the same vector), with score 1.
        query_text = texts[1234]
        query = (await v.embed([query_text], model=EMBEDDING_MODEL, dimensions=DIMENSIONS, mock=SCRIPT))[0]
        best = nearest(query, vectors, 3)
        print(f"nearest to {query_text!r}:")
        for i in best:
            print(f"  {dot(query, vectors[i]):+.3f}  {texts[i]}")

        # One call, several inputs: the item builder and the typed result.
        result = await v.call(volley.embed(texts[:3], model=EMBEDDING_MODEL, dimensions=DIMENSIONS, mock=SCRIPT))
        assert result.embeddings is not None
        print(f"one call: {result.embeddings!r}, {result.usage.input_tokens} input tokens")

        # numpy, when installed: one float32 array built from the bytes, no Python float per number.
        try:
            import numpy
        except ImportError:
            print("numpy is not installed: vectors as lists only")
        else:
            matrix = await v.embed(texts, model=EMBEDDING_MODEL, dimensions=DIMENSIONS, numpy=True, mock=SCRIPT)
            scores = matrix @ numpy.asarray(query, dtype=numpy.float32)
            print(f"as numpy: {matrix.shape} {matrix.dtype}, best match {texts[int(scores.argmax())]!r}")
            assert matrix.shape == (len(texts), DIMENSIONS) and matrix.dtype == numpy.float32
            assert int(scores.argmax()) == best[0]
            if not ONLINE:
                assert matrix.tolist() == vectors, "the same vectors (the mock's are deterministic)"

        # The other endpoints: the Responses API and a raw call.
        answer = await v.call(volley.respond("Name one database.", instructions="One word.", max_output_tokens=16,
                                             mock=SCRIPT))
        print(f"responses: {answer.text!r} (id {answer.id})")
        if not ONLINE:
            raw = await v.call(volley.post("/v1/moderations", {"input": "hello", "mock": SCRIPT}))
            print(f"raw call: HTTP {raw.status}, body {raw.body}")
            assert raw.status == 200 and raw.body["path"] == "/v1/moderations"

    assert len(vectors) == len(texts) and all(len(vector) == DIMENSIONS for vector in vectors)
    assert all(abs(dot(vector, vector) - 1.0) < 1e-3 for vector in vectors), "unit vectors"
    assert best[0] == 1234 and dot(query, vectors[1234]) > 0.99, "a text is nearest to itself"
    assert len(result.vectors()) == 3 and answer.text and answer.id
    if not ONLINE:
        # Deterministic vectors: the same whichever call made them, in input order.
        assert result.vectors() == vectors[:3] and query == vectors[1234] and vectors[0] != vectors[1]


if __name__ == "__main__":
    asyncio.run(main())
