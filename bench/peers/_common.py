"""Shared by the Python peers: arguments, the request body, timing and the JSON result line.

Every peer is run as ``peer.py N CONCURRENCY BASE_URL [--mode gather|as_completed] [--ca-file PEM]``
and prints one JSON line (``--ca-file``: the CA to trust over https://, W5). ``wall_s`` and ``cpu_s`` cover the work window only (building the requests,
sending them, reading and parsing every reply), not the interpreter's start-up or imports;
``bench/tools/runone.py`` records the whole process as well.
"""

from __future__ import annotations

import argparse
import json
import resource
import ssl
import sys
import time
from typing import Any, Dict, Optional


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("n", type=int)
    p.add_argument("concurrency", type=int)
    p.add_argument("base_url", help="e.g. http://127.0.0.1:PORT/v1 (/chat/completions is appended)")
    p.add_argument("--mode", choices=["gather", "as_completed"], default="gather")
    p.add_argument("--ca-file", default=None, help="PEM of the CA to trust over https:// (W5)")
    return p.parse_args()


def tls(args: argparse.Namespace) -> bool:
    """Whether this run is over TLS (W5): then the peers that can ask for HTTP/2 do."""
    return args.base_url.startswith("https://")


def ssl_context(args: argparse.Namespace) -> Optional[ssl.SSLContext]:
    """A verifying client context that trusts ``--ca-file``; None without one (library default)."""
    return ssl.create_default_context(cafile=args.ca_file) if args.ca_file else None


def body(i: int) -> Dict[str, Any]:
    """The request every peer sends: same model, messages and max_tokens as the C floor."""
    return {"model": "m", "messages": [{"role": "user", "content": f"Say hello, request {i}"}], "max_tokens": 16}


def cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Window:
    """Wall clock and CPU of this process between start() and stop(); first result time."""

    def __init__(self) -> None:
        self.t0 = self.cpu0 = 0.0
        self.wall = self.cpu = 0.0
        self.first: Optional[float] = None

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.cpu0 = cpu_self()

    def mark_first(self) -> None:
        if self.first is None:
            self.first = time.perf_counter() - self.t0

    def stop(self) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = cpu_self() - self.cpu0


def emit(peer: str, args: argparse.Namespace, w: Window, ok: int, errors: int, sample: str = "", **extra: Any) -> None:
    """Print the result line. ``extra`` fields are added, or replace the defaults (``maxrss_kb``)."""
    result = {
        "peer": peer,
        "mode": args.mode,
        "n": args.n,
        "concurrency": args.concurrency,
        "ok": ok,
        "errors": errors,
        "wall_s": round(w.wall, 6),
        "first_s": round(w.first, 6) if w.first is not None else None,
        "cpu_s": round(w.cpu, 6),
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "error_sample": sample[:300],
    }
    result.update(extra)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
