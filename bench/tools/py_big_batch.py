#!/usr/bin/env python3
"""The Python client on one big batch: a ``gather`` of N mock items at zero latency.

    py_big_batch.py VOLLEY_BIN [N=100000] [--repeat 3] [--concurrency 256] [--src DIR]
                    [--json auto|stdlib] [--outcomes] [--jsonl FILE]

Each repetition runs in a fresh Python process (so that its peak RSS is its own), which builds
N items with ``volley.chat(f"item {i}", provider="mock", model="m", key=str(i),
mock={"latency_ms": 0})``, starts a sidecar, then times ``await v.gather(items,
concurrency=C)``. It prints one JSON line per repetition and one with the medians:

- ``host_cpu_s``: the host's CPU time (time.process_time) for building the items and the gather;
  ``build_cpu_s`` / ``gather_cpu_s`` split it.
- ``sidecar_cpu_s``: the sidecar's CPU time (utime + stime from /proc/PID/stat) during the gather.
- ``wall_s``: wall-clock seconds of building the items and the gather (inflated on a loaded
  machine: CPU time is the figure to compare); ``gather_wall_s`` the gather alone.
- ``peak_rss_mb``: the host's peak RSS (ru_maxrss), the caller's N items included;
  ``base_rss_mb`` the RSS after importing volley, before anything else.

``--src DIR`` imports volley from DIR (e.g. an older copy of clients/python/src), else from
$PYTHONPATH, else from this checkout. ``--json stdlib`` hides orjson from the client (it falls
back to the json module). ``--outcomes`` also reads ``results.outcomes`` (built lazily).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT_SRC = os.path.join(HERE, "..", "..", "clients", "python", "src")

CHILD = r"""
import asyncio, gc, json, os, resource, sys, time
if {stdlib!r}:
    sys.modules["orjson"] = None  # `import orjson` raises ImportError
import volley

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def cpu_of(pid):
    with open(f"/proc/{{pid}}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

async def main():
    n, concurrency = {n}, {concurrency}
    base = rss_mb()
    async with volley.Volley(binary={binary!r}) as v:
        await v.ping()
        side0 = cpu_of(v.pid)
        w0, c0 = time.perf_counter(), time.process_time()
        items = [volley.chat(f"item {{i}}", provider="mock", model="m", key=str(i), mock={{"latency_ms": 0}})
                 for i in range(n)]
        w1, c1 = time.perf_counter(), time.process_time()
        results = await v.gather(items, concurrency=concurrency)
        if {outcomes!r}:
            assert len(results.outcomes) == n
        w2, c2 = time.perf_counter(), time.process_time()
        side1 = cpu_of(v.pid)
        ok = sum(1 for r in results if r.text is not None)
        assert len(results) == n and ok == n, (len(results), ok)
        assert results[n - 1].text and results.stats.succeeded == n
    print(json.dumps({{
        "n": n, "host_cpu_s": round(c2 - c0, 3), "build_cpu_s": round(c1 - c0, 3),
        "gather_cpu_s": round(c2 - c1, 3), "sidecar_cpu_s": round(side1 - side0, 3),
        "wall_s": round(w2 - w0, 3), "gather_wall_s": round(w2 - w1, 3),
        "peak_rss_mb": round(rss_mb(), 1), "base_rss_mb": round(base, 1),
        "json": "orjson" if getattr(getattr(volley, "_codec", None), "ORJSON", None) is not None else "stdlib",
        "python": sys.version.split()[0],
    }}))

asyncio.run(main())
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("n", nargs="?", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--src", help="import volley from this directory")
    parser.add_argument("--json", choices=("auto", "stdlib"), default="auto")
    parser.add_argument("--outcomes", action="store_true", help="also read results.outcomes")
    parser.add_argument("--jsonl", help="append the lines to this file")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()

    env = dict(os.environ)
    src = args.src or (None if env.get("PYTHONPATH") else CHECKOUT_SRC)
    if src:
        env["PYTHONPATH"] = os.path.abspath(src)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    code = CHILD.format(n=args.n, concurrency=args.concurrency, binary=os.path.abspath(args.binary),
                        stdlib=args.json == "stdlib", outcomes=args.outcomes)
    runs = []
    out = open(args.jsonl, "a") if args.jsonl else None
    for i in range(args.repeat):
        proc = subprocess.run([args.python, "-c", code], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            return 1
        run = json.loads(proc.stdout.strip().splitlines()[-1])
        run["run"] = i + 1
        runs.append(run)
        line = json.dumps(run)
        print(line, flush=True)
        if out:
            out.write(line + "\n")
    keys = ("host_cpu_s", "build_cpu_s", "gather_cpu_s", "sidecar_cpu_s", "wall_s", "gather_wall_s",
            "peak_rss_mb", "base_rss_mb")
    median = {"n": args.n, "median_of": len(runs), "json": runs[0]["json"], "src": src or env.get("PYTHONPATH")}
    median.update({k: round(statistics.median(r[k] for r in runs), 3) for k in keys})
    line = json.dumps(median)
    print(line)
    if out:
        out.write(line + "\n")
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
