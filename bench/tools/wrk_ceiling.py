#!/usr/bin/env python3
"""The physical-limit row: wrk against the same nginx location at the workload's concurrency.

    wrk_ceiling.py --jsonl FILE --workload W1 --n N --concurrency C --url URL
                   [--nginx-pid PID] [--seconds 5] [--delay-s 0.1] [--pin CPUS]

Appends {"peer": "wrk", rps, ideal_wall_s, nginx_us_per_req, ...}: ideal_wall_s is the wall N
requests would take at wrk's rate, and never less than ceil(N/C) x delay.
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--jsonl", required=True)
    p.add_argument("--workload", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--concurrency", type=int, required=True)
    p.add_argument("--url", required=True, help="the full .../chat/completions URL")
    p.add_argument("--nginx-pid", type=int)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--delay-s", type=float, default=0.0)
    p.add_argument("--pin", default="")
    a = p.parse_args()

    cmd = ["wrk", "-t1", f"-c{a.concurrency}", f"-d{a.seconds}s", "--timeout", "10s",
           "-s", os.path.join(HERE, "wrk_post.lua"), a.url]
    if a.pin:
        cmd = ["taskset", "-c", a.pin] + cmd
    ngx0 = proc_cpu(a.nginx_pid) if a.nginx_pid else None
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    ngx1 = proc_cpu(a.nginx_pid) if a.nginx_pid else None

    def grab(pattern, cast=float, default=None):
        m = re.search(pattern, out)
        return cast(m.group(1)) if m else default

    rps = grab(r"Requests/sec:\s+([\d.]+)")
    total = grab(r"(\d+) requests in", int, 0)
    non2xx = grab(r"Non-2xx or 3xx responses:\s+(\d+)", int, 0)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    sock_errors = sum(int(x) for x in sock.groups()) if sock else 0
    ideal = None
    if rps:
        ideal = max(a.n / rps, math.ceil(a.n / a.concurrency) * a.delay_s)
    result = {
        "workload": a.workload, "peer": "wrk", "n": a.n, "concurrency": a.concurrency,
        "rps": rps, "requests": total, "errors": non2xx + sock_errors, "ideal_wall_s": ideal,
        "latency_avg": (re.search(r"Latency\s+(\S+)", out) or [None, None])[1],
        "nginx_cpu_s": round(ngx1 - ngx0, 3) if ngx0 is not None else None,
        "nginx_us_per_req": round((ngx1 - ngx0) / total * 1e6, 2) if ngx0 is not None and total else None,
        "seconds": a.seconds,
    }
    with open(a.jsonl, "a") as f:
        f.write(json.dumps(result) + "\n")
    print(f"  {a.workload} wrk -c{a.concurrency}: {rps} req/s, ideal wall {ideal and round(ideal, 3)} s, "
          f"errors {result['errors']}, nginx {result['nginx_us_per_req']} us/req", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
