#!/usr/bin/env python3
"""Start-up: spawn volley K times; time from spawn to the first answered `ping`.

    startup.py VOLLEY_BIN [K=20] [--jsonl FILE]

Each run: Popen (posix_spawn/vfork), write {"jsonrpc":"2.0","id":1,"method":"ping"}, read the
reply line, stop the clock; then close stdin and wait for the exit. Prints one JSON line with
every sample in ms and the median, p90, min and max. The same loop over `cat` (which echoes the
line back) gives the floor of this measurement: the cost of spawning any process from Python.
"""

import json
import statistics
import subprocess
import sys
import time

PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'


def spawn_to_reply(argv):
    """Milliseconds from spawn to the first reply line, and whether the line was an answer."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.stdin.write(PING)
    p.stdin.flush()
    line = p.stdout.readline()
    dt = (time.perf_counter() - t0) * 1000
    p.stdin.close()
    p.wait(timeout=10)
    return dt, line


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    jsonl = sys.argv[sys.argv.index("--jsonl") + 1] if "--jsonl" in sys.argv else None
    if jsonl in args:
        args.remove(jsonl)
    binary = args[0]
    k = int(args[1]) if len(args) > 1 else 20
    samples, bad = [], 0
    for _ in range(k):
        dt, line = spawn_to_reply([binary])
        if b'"result"' not in line:
            bad += 1
        samples.append(dt)
    samples.sort()
    cat = sorted(spawn_to_reply(["cat"])[0] for _ in range(k))
    result = {
        "workload": "startup", "peer": "volley", "runs": k, "errors": bad,
        "median_ms": round(statistics.median(samples), 2),
        "p90_ms": round(samples[min(len(samples) - 1, int(0.9 * len(samples)))], 2),
        "min_ms": round(samples[0], 2), "max_ms": round(samples[-1], 2),
        "samples_ms": [round(s, 2) for s in samples],
        "cat_median_ms": round(statistics.median(cat), 2),
    }
    line = json.dumps(result)
    print(line)
    if jsonl:
        with open(jsonl, "a") as f:
            f.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
