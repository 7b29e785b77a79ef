"""A host process for the shared-mode tests, driven over its stdin and reporting on its stdout.

    python shared_host.py '{"socket": PATH or null, "binary": ..., "providers": {...}, "batch": {...}}'

It prints one JSON line per step and waits for a command line between steps, so a test can start
many hosts, then release them at the same moment:

    -> {"event": "ready", "pid": ...}                 imported, waiting
    <- go
    -> {"event": "attached", "server_pid": ..., "connection": ...}
    <- run                                             (only when "batch" is given)
    -> {"event": "batch_started", "t": <unix time>}
    -> {"event": "batch_done", "t0": ..., "t1": ..., "ok": N, "errors": {"kind": N}}
    <- exit                                            (or end of stdin)
    -> {"event": "closed"}

"batch" is {"count": N, "provider": ..., "model": ..., "mock": {...} or null, "max_tokens": N,
"timeout": seconds or null}.
With "socket": null the host runs in stdio mode (its own sidecar).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import time
from typing import Any, Dict


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


async def command(expected: str) -> None:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if line.strip() != expected and line:
        raise SystemExit(f"shared_host: expected {expected!r}, got {line!r}")


async def main(config: Dict[str, Any]) -> None:
    import volley

    emit("ready", pid=os.getpid())
    await command("go")
    options: Dict[str, Any] = {
        "binary": config["binary"],
        "env": {"OPENAI_API_KEY": None, "ANTHROPIC_API_KEY": None},
        "client_name": config.get("client_name", "shared-host"),
    }
    if config.get("socket"):
        options["socket"] = config["socket"]
    if config.get("providers"):
        options["providers"] = config["providers"]
    v = volley.Volley(**options)
    await v.start()
    emit("attached", server_pid=v.pid, connection=v.server_info.get("connection"))
    batch = config.get("batch")
    if batch:
        await command("run")
        items = [
            volley.chat(
                f"host {os.getpid()} item {i}",
                provider=batch["provider"],
                model=batch.get("model", "m"),
                max_tokens=batch.get("max_tokens"),
                mock=batch.get("mock"),
            )
            for i in range(batch["count"])
        ]
        t0 = time.time()
        emit("batch_started", t=t0)
        results = await v.gather(items, return_exceptions=True, timeout=batch.get("timeout"))
        t1 = time.time()
        errors = collections.Counter(r.kind for r in results if isinstance(r, volley.ItemError))
        emit("batch_done", t0=t0, t1=t1, ok=len(results) - sum(errors.values()), errors=dict(errors))
    await command("exit")
    await v.aclose()
    emit("closed")


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
