"""asyncio + one aiohttp.ClientSession (TCPConnector limited to the workload's concurrency) +
asyncio.gather with a semaphore; ``await response.json()`` per call. aiohttp speaks HTTP/1.1 only:
over https:// (W5) the connector gets ``ssl=ssl.create_default_context(cafile=CA)``."""

import asyncio

import aiohttp

from _common import Window, body, emit, parse_args, ssl_context


async def call(session: aiohttp.ClientSession, sem: asyncio.Semaphore, url: str, i: int) -> str:
    async with sem:
        async with session.post(url, json=body(i)) as response:
            response.raise_for_status()
            data = await response.json()
            return data["choices"][0]["message"]["content"]


async def main() -> None:
    args = parse_args(__doc__)
    url = args.base_url.rstrip("/") + "/chat/completions"
    extra = {"ssl": ssl_context(args)} if args.ca_file else {}
    connector = aiohttp.TCPConnector(limit=args.concurrency, limit_per_host=args.concurrency, **extra)
    w = Window()
    ok = errors = 0
    sample = ""
    async with aiohttp.ClientSession(
        connector=connector, headers={"Authorization": "Bearer x"}, timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        sem = asyncio.Semaphore(args.concurrency)
        w.start()
        coros = [call(session, sem, url, i) for i in range(args.n)]
        if args.mode == "gather":
            results = await asyncio.gather(*coros, return_exceptions=True)
            w.mark_first()
        else:
            results = []
            for fut in asyncio.as_completed(coros):
                try:
                    results.append(await fut)
                except Exception as e:  # noqa: BLE001
                    results.append(e)
                w.mark_first()
        w.stop()
    for r in results:
        if isinstance(r, BaseException):
            errors += 1
            sample = sample or f"{type(r).__name__}: {r}"
        else:
            ok += 1
    emit("py-aiohttp", args, w, ok, errors, sample)


asyncio.run(main())
