"""The article's pattern: asyncio + one shared httpx.AsyncClient + asyncio.gather, a semaphore
bounding the calls in flight, ``response.json()["choices"][0]["message"]["content"]`` per call.

The pool is sized to the workload (``httpx.Limits(max_connections=C, max_keepalive_connections=C)``)
so the semaphore, not httpx's default of 100 connections, sets the concurrency. ``--article-defaults``
keeps httpx's defaults, as the article's code does (W2/W3 then run at most 100 at once).
Over https:// (W5) the client is made with ``http2=True`` (the ``h2`` package) and
``verify=ssl.create_default_context(cafile=CA)``; over http:// neither is passed.
"""

import asyncio
import sys

import httpx

from _common import Window, body, emit, parse_args, ssl_context, tls

article_defaults = "--article-defaults" in sys.argv
if article_defaults:
    sys.argv.remove("--article-defaults")


async def call(client: httpx.AsyncClient, sem: asyncio.Semaphore, url: str, i: int) -> str:
    async with sem:
        response = await client.post(url, json=body(i))
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"]


async def main() -> None:
    args = parse_args(__doc__)
    url = args.base_url.rstrip("/") + "/chat/completions"
    limits = (
        httpx.Limits(max_connections=100, max_keepalive_connections=20)
        if article_defaults
        else httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    )
    w = Window()
    ok = errors = 0
    sample = ""
    extra = {}
    if tls(args):
        extra["http2"] = True
        if args.ca_file:
            extra["verify"] = ssl_context(args)
    async with httpx.AsyncClient(headers={"Authorization": "Bearer x"}, timeout=30.0, limits=limits, **extra) as client:
        sem = asyncio.Semaphore(args.concurrency)
        w.start()
        coros = [call(client, sem, url, i) for i in range(args.n)]
        if args.mode == "gather":
            results = await asyncio.gather(*coros, return_exceptions=True)
            w.mark_first()
        else:
            results = []
            for fut in asyncio.as_completed(coros):
                try:
                    results.append(await fut)
                except Exception as e:  # noqa: BLE001 - counted, like return_exceptions=True
                    results.append(e)
                w.mark_first()
        w.stop()
    for r in results:
        if isinstance(r, BaseException):
            errors += 1
            sample = sample or f"{type(r).__name__}: {r}"
        else:
            ok += 1
    emit("py-httpx-defaults" if article_defaults else "py-httpx", args, w, ok, errors, sample)


asyncio.run(main())
