"""Several processes, one budget: shared mode.

Before: each worker process of a pool (web workers, a job queue, scripts run side by side)
makes its own calls with its own semaphore and its own idea of the rate limit, so four workers
configured with ``rpm: 1200`` send 4,800 requests a minute and meet 429s. After: each worker
opens ``volley.Volley(shared=True)``; the first one starts the machine's volley daemon, the
others attach to it, and the daemon paces every worker's calls under one limiter per API key
and model. The workers' code is the same as with a sidecar of their own.

Runs offline on Volley's built-in ``mock`` provider. With ``OPENAI_API_KEY`` set it calls
OpenAI's ``gpt-4o-mini``. It checks its own output. The daemon keeps running after it (for the
next program; it exits after 300 s without any) and listens on ``volley.default_socket_path()``
(``$VOLLEY_SOCKET`` to choose another).

    python examples/shared_workers.py
"""

import os
from concurrent.futures import ProcessPoolExecutor
from typing import List, Tuple

import volley

ONLINE = bool(os.environ.get("OPENAI_API_KEY"))
PROVIDER = "openai" if ONLINE else "mock"
WORKERS = 4


def worker(number: int) -> Tuple[int, int, List[str], int]:
    """One worker process: its own Volley, attached to the shared daemon."""
    provider = {"limits": {"rpm": 1200}}
    if not ONLINE:
        provider.update(kind="mock", latency_ms=50)
    items = [volley.chat(f"Worker {number}: name a prime number above {10 * i}.", max_tokens=10) for i in range(5)]
    with volley.SyncVolley(shared=True, providers={PROVIDER: provider}, default_provider=PROVIDER,
                           model="gpt-4o-mini") as v:
        results = v.gather(items)
        hosts = {entry["pid"] for entry in v.stats()["connections"]}
        return os.getpid(), v.volley.pid or 0, [r.text or "" for r in results], len(hosts)


def main() -> None:
    with ProcessPoolExecutor(WORKERS) as pool:
        reports = list(pool.map(worker, range(WORKERS)))
    for pid, daemon, texts, hosts in reports:
        print(f"worker (pid {pid}): {len(texts)} answers from the daemon (pid {daemon}), "
              f"{hosts} host process(es) attached at the end; first: {texts[0][:50]!r}")
    daemons = {daemon for _, daemon, _, _ in reports}
    print(f"{WORKERS} workers, {len(daemons)} daemon at {volley.default_socket_path()}")

    assert len(daemons) == 1 and 0 not in daemons
    assert all(len(texts) == 5 and all(texts) for _, _, texts, _ in reports)


if __name__ == "__main__":
    main()
