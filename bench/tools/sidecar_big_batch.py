#!/usr/bin/env python3
"""The sidecar on one big batch: its peak memory per item for a `gather` of N mock items.

    sidecar_big_batch.py VOLLEY_BIN [N=1000000] [--concurrency 256] [--repeat 1] [--method gather]

Each repetition spawns a fresh sidecar with `--max-items-per-batch N` and `--max-line-bytes`
raised to fit, sends `initialize`, then one batch of N items of the bench's mock shape
(`{"provider":"mock","key":"<i>","request":{"model":"m","max_tokens":8,"messages":[{"role":
"user","content":"item <i>"}],"mock":{"latency_ms":0}}}`) written from a thread while the main
thread reads the reply, and reads the sidecar's VmHWM (peak RSS) from /proc just before it exits.
Prints one JSON line per repetition:

- ``peak_rss_mb`` / ``base_rss_mb``: VmHWM at the end, and VmRSS after `initialize` answered;
- ``bytes_per_item``: (peak - base) / N, what the batch held at its peak per item, in bytes;
- ``request_bytes_per_item`` / ``reply_bytes_per_item``: the request line's and the reply
  line's length over N: the wire sizes, for scale (a sidecar that never holds the whole request
  or the whole reply can go below their sum; one that builds both in full cannot);
- ``wall_s``: from the first byte of the request to the last of the reply; ``reply_cpu_s``
  the sidecar's CPU until then, ``cpu_s`` its CPU until it exited (stdin closed after the
  reply), so memory freed after the reply is counted too.

With ``--method as_completed`` the same items are streamed back as `item` notifications (the
reply is then only the stats), for comparison.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    """The CPU seconds (user + system) process `pid` has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request_line(n, concurrency, method):
    parts = []
    for i in range(n):
        parts.append(
            '{"provider":"mock","key":"%d","request":{"model":"m","max_tokens":8,"messages":'
            '[{"role":"user","content":"item %d"}],"mock":{"latency_ms":0}}}' % (i, i)
        )
    return (
        '{"jsonrpc":"2.0","id":2,"method":"%s","params":{"concurrency":%d,"requests":[' % (method, concurrency)
        + ",".join(parts)
        + "]}}\n"
    ).encode()


def one(binary, n, concurrency, method):
    line = request_line(n, concurrency, method)
    proc = subprocess.Popen(
        [binary, "--max-items-per-batch", str(n), "--max-line-bytes", str(len(line) + 1024)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    proc.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocol_version":1}}\n')
    proc.stdin.flush()
    json.loads(proc.stdout.readline())
    base_kb = status_kb(proc.pid, "VmRSS")

    def write():
        proc.stdin.write(line)
        proc.stdin.flush()

    started = time.perf_counter()
    writer = threading.Thread(target=write)
    writer.start()
    reply_bytes = 0
    items = 0
    while True:
        out = proc.stdout.readline()
        if not out:
            raise SystemExit("the sidecar exited before answering")
        if b'"id":2' in out[:40] or out.startswith(b'{"jsonrpc":"2.0","id":2'):
            reply_bytes += len(out)
            reply = json.loads(out)
            break
        reply_bytes += len(out)
        items += 1
    wall = time.perf_counter() - started
    writer.join()
    peak_kb = status_kb(proc.pid, "VmHWM")
    reply_cpu = cpu_s(proc.pid)
    proc.stdin.close()
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    if "error" in reply:
        raise SystemExit(f"the batch failed: {reply['error'].get('message')}")
    result = reply["result"]
    if method == "gather":
        results = result["results"]
        failed = sum(1 for r in results if not r.get("ok"))
        if len(results) != n or failed:
            raise SystemExit(f"{len(results)} results, {failed} failed, for {n} items")
    elif items != n:
        raise SystemExit(f"{items} item notifications for {n} items")
    return {
        "method": method,
        "items": n,
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "base_rss_mb": round(base_kb / 1024, 1),
        "bytes_per_item": round((peak_kb - base_kb) * 1024 / n),
        "request_bytes_per_item": round(len(line) / n),
        "reply_bytes_per_item": round(reply_bytes / n),
        "wall_s": round(wall, 2),
        "reply_cpu_s": round(reply_cpu, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--method", choices=["gather", "as_completed"], default="gather")
    args = parser.parse_args()
    for _ in range(args.repeat):
        print(json.dumps(one(args.binary, args.n, args.concurrency, args.method)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
