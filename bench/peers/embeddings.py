"""Issue 17's embeddings benchmark: N embeddings (one input each) of DIMS floats from BASE_URL's
/embeddings, all at once under CONCURRENCY, through one of two hosts:

- ``volley``: the Python client, ``await v.gather([volley.embed(text, ...) ...])``, then every
  vector read (``result.vectors()``: lists of floats, or one numpy array with ``--numpy``);
- ``openai``: the official SDK, one ``AsyncOpenAI`` + ``asyncio.gather`` with a semaphore,
  ``(await client.embeddings.create(...)).data[0].embedding`` per call (the SDK asks for base64
  and decodes it, with numpy when it is installed).

    embeddings.py volley|volley-numpy|openai N CONCURRENCY BASE_URL [--dims 1536]

``volley-numpy`` is the client's own way for a corpus: ``await v.embed(texts, numpy=True)``
(256 texts a request, one float32 array for all).

Prints one JSON line: the wall time and this process's CPU and peak RSS (the volley sidecar is a
child: time the command from outside, as a whole process tree, for the total), how many vectors,
and a checksum that proves the vectors were read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("host", choices=["volley", "volley-numpy", "openai"])
    p.add_argument("n", type=int)
    p.add_argument("concurrency", type=int)
    p.add_argument("base_url")
    p.add_argument("--dims", type=int, default=1536)
    return p.parse_args()


def checksum(vectors) -> float:
    total = 0.0
    for vector in vectors:
        total += float(vector[0]) + float(vector[-1])
    return total


async def with_volley(args: argparse.Namespace) -> tuple[int, float]:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python", "src"))
    import volley

    providers = {"bench": {"kind": "openai", "base_url": args.base_url, "api_key": "x",
                           "limits": {"concurrency": args.concurrency}, "retry": {"max_retries": 0}}}
    async with volley.Volley(providers=providers) as v:
        items = [volley.embed(f"text number {i}", model="text-embedding-3-small", provider="bench", dimensions=args.dims)
                 for i in range(args.n)]
        if args.host == "volley-numpy":
            texts = [f"text number {i}" for i in range(args.n)]
            matrix = await v.embed(texts, model="text-embedding-3-small", provider="bench", dimensions=args.dims, numpy=True)
            return len(matrix), checksum(matrix)
        results = await v.gather(items, concurrency=args.concurrency)
        vectors = [result.vectors()[0] for result in results]
    return len(vectors), checksum(vectors)


async def with_openai(args: argparse.Namespace) -> tuple[int, float]:
    import openai
    from openai import AsyncOpenAI, DefaultAsyncHttpxClient

    limits = type(openai._constants.DEFAULT_CONNECTION_LIMITS)
    http_client = DefaultAsyncHttpxClient(limits=limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency))
    client = AsyncOpenAI(base_url=args.base_url, api_key="x", max_retries=0, timeout=60.0, http_client=http_client)
    sem = asyncio.Semaphore(args.concurrency)

    async def one(i: int):
        async with sem:
            reply = await client.embeddings.create(model="text-embedding-3-small", input=f"text number {i}", dimensions=args.dims)
            return reply.data[0].embedding

    async with client:
        vectors = await asyncio.gather(*(one(i) for i in range(args.n)))
    return len(vectors), checksum(vectors)


def main() -> None:
    args = parse()
    t0 = time.perf_counter()
    cpu0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    count, total = asyncio.run(with_openai(args) if args.host == "openai" else with_volley(args))
    wall = time.perf_counter() - t0
    cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu0
    print(json.dumps({"host": args.host, "n": args.n, "dims": args.dims, "vectors": count, "checksum": round(total, 6),
                      "wall_s": round(wall, 3), "cpu_s_host": round(cpu, 3),
                      "maxrss_kb_host": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    main()
