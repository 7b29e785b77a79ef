"""The official SDK: one AsyncOpenAI (base_url at nginx, max_retries=0, its default httpx client
with the pool sized to the workload) + asyncio.gather with a semaphore;
``(await client.chat.completions.create(...)).choices[0].message.content`` per call.
Over https:// (W5) the http client gets ``verify=ssl.create_default_context(cafile=CA)`` and keeps
the SDK's default protocol (HTTP/1.1: it does not ask for HTTP/2)."""

import asyncio

import openai
from openai import AsyncOpenAI, DefaultAsyncHttpxClient

from _common import Window, emit, parse_args, ssl_context

# The SDK's own httpx flavour (httpx, or httpx2 in newer releases): take Limits from its defaults.
Limits = type(openai._constants.DEFAULT_CONNECTION_LIMITS)


async def call(client: AsyncOpenAI, sem: asyncio.Semaphore, i: int) -> str:
    async with sem:
        completion = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"Say hello, request {i}"}], max_tokens=16
        )
        return completion.choices[0].message.content or ""


async def main() -> None:
    args = parse_args(__doc__)
    extra = {"verify": ssl_context(args)} if args.ca_file else {}
    http_client = DefaultAsyncHttpxClient(
        limits=Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency), **extra
    )
    client = AsyncOpenAI(base_url=args.base_url, api_key="x", max_retries=0, timeout=30.0, http_client=http_client)
    w = Window()
    ok = errors = 0
    sample = ""
    async with client:
        sem = asyncio.Semaphore(args.concurrency)
        w.start()
        coros = [call(client, sem, i) for i in range(args.n)]
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
    emit("py-openai", args, w, ok, errors, sample, openai_version=openai.__version__)


asyncio.run(main())
