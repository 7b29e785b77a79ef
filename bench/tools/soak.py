#!/usr/bin/env python3
"""Soak: a million items through one long-lived sidecar, its RSS sampled as it goes.

    soak.py VOLLEY_BIN [--items 1000000] [--server mock|fake] [--fake-bin PATH]
            [--every 50000] [--jsonl FILE] [--env NAME=VALUE ...]

One `volley` process, fed batches of varied size (1 to 20,000 items, gather and as_completed in
turn) until --items items have run; every item must come back exactly once and succeed. After
each --every items the sidecar's VmRSS (/proc/PID/status) is sampled. `--server mock` runs the
built-in mock at zero latency; `--server fake` runs `volley-fake-llm --port 0` (zero latency) and
sends the items to it over HTTP. Prints one JSON line per sample and a summary line:
{"items", "rss_mb": {"100000": ..., "500000": ..., "1000000": ...}, "growth_after_warmup_mb",
"wall_s"}. Exits 1 when an item is lost, answered twice or failed.

Under a sanitizer build (`--env ASAN_OPTIONS=detect_leaks=1`), the sidecar is told to shut down
at the end and its stderr is printed, so LeakSanitizer's report (or its absence) shows.
"""

import itertools
import json
import os
import subprocess
import sys
import time

SIZES = [1, 7, 100, 1000, 20000, 3, 5000, 250, 10000, 50]


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def item(provider, n):
    request = {"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{"role": "user", "content": f"soak {n}"}]}
    if provider == "mock":
        request["mock"] = {"latency_ms": 0}
    return {"provider": provider, "key": str(n), "request": request}


def main():
    binary = sys.argv[1]
    total = int(arg("--items", "1000000"))
    server = arg("--server", "mock")
    every = int(arg("--every", "50000"))
    jsonl = arg("--jsonl", None)
    env = dict(os.environ)
    for i, value in enumerate(sys.argv):
        if value == "--env":
            name, _, setting = sys.argv[i + 1].partition("=")
            env[name] = setting
    fake = None
    provider = "mock"
    if server == "fake":
        fake_bin = arg("--fake-bin", os.path.join(os.path.dirname(binary), "volley-fake-llm"))
        fake = subprocess.Popen([fake_bin, "--port", "0", "--latency-ms", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        base_url = json.loads(fake.stdout.readline())["base_url"]
        env["SOAK_KEY"] = "sk-soak"
        provider = "fake"
    sidecar = subprocess.Popen([binary, "--max-items-per-batch", "100000"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
    out = open(jsonl, "a") if jsonl else None

    def send(message):
        sidecar.stdin.write((json.dumps(message, separators=(",", ":")) + "\n").encode())
        sidecar.stdin.flush()

    def reply(request_id):
        while True:
            line = sidecar.stdout.readline()
            if not line:
                raise SystemExit(f"the sidecar closed stdout (exit {sidecar.wait()}): {sidecar.stderr.read()[-2000:]!r}")
            message = json.loads(line)
            if message.get("id") == request_id:
                return message

    if fake:
        send({"jsonrpc": "2.0", "id": "c", "method": "configure", "params": {"providers": {"fake": {
            "kind": "openai", "base_url": base_url + "/v1", "api_key_env": "SOAK_KEY", "limits": {"concurrency": 256}}}}})
        assert "result" in reply("c")
    started = time.perf_counter()
    done, next_sample, request_id, failures = 0, every, 0, 0
    samples = {}
    for size, method in zip(itertools.cycle(SIZES), itertools.cycle(["gather", "as_completed"])):
        if done >= total:
            break
        size = min(size, total - done)
        request_id += 1
        items = [item(provider, done + i) for i in range(size)]
        send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": {"requests": items, "concurrency": 256}})
        if method == "gather":
            results = reply(request_id)["result"]["results"]
            keys = [r.get("key") for r in results]
            ok = sum(1 for r in results if r.get("ok"))
        else:
            keys, ok = [], 0
            while True:
                line = sidecar.stdout.readline()
                message = json.loads(line)
                if message.get("method") == "item" and message["params"].get("request") == request_id:
                    keys.append(message["params"].get("key"))
                    ok += 1 if message["params"].get("ok") else 0
                elif message.get("id") == request_id:
                    break
        if sorted(keys, key=int) != [str(done + i) for i in range(size)] or ok != size:
            failures += 1
            print(json.dumps({"error": "batch lost, repeated or failed items", "at": done, "size": size, "ok": ok,
                              "answered": len(keys)}), flush=True)
        done += size
        if done >= next_sample or done >= total:
            sample = {"items": done, "rss_mb": round(rss_mb(sidecar.pid), 1), "wall_s": round(time.perf_counter() - started, 1)}
            samples[done] = sample["rss_mb"]
            print(json.dumps(sample), flush=True)
            if out:
                out.write(json.dumps(sample) + "\n")
            while next_sample <= done:
                next_sample += every
    wall = time.perf_counter() - started
    send({"jsonrpc": "2.0", "id": "bye", "method": "shutdown"})
    reply("bye")
    sidecar.stdin.close()
    code = sidecar.wait(timeout=60)
    stderr = sidecar.stderr.read().decode(errors="replace")
    if fake:
        fake.terminate()
        fake.wait()
    def at(n):
        keys = [k for k in samples if k >= n]
        return samples[min(keys)] if keys else None
    warm_at = min(100_000, total)
    warm = at(warm_at)
    after = [v for k, v in samples.items() if k >= warm_at]
    summary = {"items": done, "server": server, "rss_mb": {str(n): at(n) for n in (100_000, 500_000, 1_000_000) if n <= total},
               "growth_after_warmup_mb": round(max(after) - warm, 1) if warm is not None else None,
               "peak_mb": max(samples.values()), "wall_s": round(wall, 1), "exit": code, "failed_batches": failures}
    print(json.dumps(summary), flush=True)
    if "LeakSanitizer" in stderr or "AddressSanitizer" in stderr:
        print(stderr[-20000:], file=sys.stderr)
    return 1 if failures or code != 0 or "ERROR: LeakSanitizer" in stderr else 0


if __name__ == "__main__":
    sys.exit(main())
