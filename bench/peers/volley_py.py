"""Volley through its Python client (clients/python): ``async with Volley(...) as v`` then one
``await v.gather(items, return_exceptions=True, concurrency=C)`` (or ``async for`` over
``v.as_completed``), each result's ``.text`` read.

HOOK (clients/python may not be merged yet): the client is imported from, in order,
``$VOLLEY_PY_CLIENT_SRC``, then ``<repo>/clients/python/src``. When neither holds the
``volley`` package this peer prints ``{"skipped": ...}`` and bench/run reports it as skipped.
The sidecar binary is ``$VOLLEY_BIN``; ``--ca-file`` becomes the provider's ``ca_file`` (over
https:// the sidecar asks for HTTP/2 by ALPN on its own). Its CPU and peak RSS come from RUSAGE_CHILDREN after the
client has shut it down and reaped it (its whole life: spawn, initialize, the batch, exit).
"""

import asyncio
import os
import resource
import sys
from pathlib import Path

from _common import Window, emit, parse_args

args = parse_args(__doc__)
repo = Path(__file__).resolve().parents[2]
candidates = [os.environ.get("VOLLEY_PY_CLIENT_SRC", ""), str(repo / "clients" / "python" / "src")]
src = next((c for c in candidates if c and (Path(c) / "volley" / "__init__.py").is_file()), None)
if src is None:
    import json

    print(json.dumps({"peer": "volley-py", "mode": args.mode, "n": args.n, "concurrency": args.concurrency,
                      "skipped": "clients/python not found (set VOLLEY_PY_CLIENT_SRC=/path/to/clients/python/src)"}))
    sys.exit(0)
sys.path.insert(0, src)
import volley  # noqa: E402


async def main() -> None:
    c = args.concurrency
    providers = {
        "bench": {
            "kind": "openai",
            "base_url": args.base_url,
            "api_key": "x",
            "limits": {"concurrency": c, "rpm": 100_000_000, "tpm": 10_000_000_000},
            "retry": {"max_retries": 0},
        }
    }
    if args.ca_file:
        providers["bench"]["ca_file"] = args.ca_file
    ok = errors = 0
    sample = ""
    w = Window()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    async with volley.Volley(
        binary=os.environ.get("VOLLEY_BIN"),
        providers=providers,
        default_provider="bench",
        extra_args=["--max-connections-per-host", str(c)],
        build=False,
    ) as v:
        w.start()
        items = [volley.chat(f"Say hello, request {i}", model="m", max_tokens=16) for i in range(args.n)]
        if args.mode == "gather":
            results = await v.gather(items, return_exceptions=True, concurrency=c)
            w.mark_first()
            for r in results:
                if isinstance(r, BaseException):
                    errors += 1
                    sample = sample or f"{type(r).__name__}: {r}"
                else:
                    _ = r.text
                    ok += 1
        else:
            async for outcome in v.as_completed(items, concurrency=c):
                w.mark_first()
                if outcome.ok:
                    _ = outcome.result().text
                    ok += 1
                else:
                    errors += 1
                    sample = sample or str(outcome.error)
        w.stop()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    emit(
        "volley-py", args, w, ok, errors, sample,
        sidecar_cpu_s=round(children.ru_utime + children.ru_stime - children0.ru_utime - children0.ru_stime, 6),
        sidecar_maxrss_kb=children.ru_maxrss,
        client_src=src,
    )


asyncio.run(main())
