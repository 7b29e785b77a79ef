#!/usr/bin/env python3
"""Turn one bench/run's raw JSONL (and its meta.json, start-up and profile) into results markdown.

    report.py --jsonl RAW.jsonl --meta META.json [--profile PROFILE.md] > bench/results/DATE.md

Per (workload, peer): the median over runs of wall, CPU (host, sidecar) and nginx CPU, the
maximum of peak RSS, the sum of errors; ratios to the C floor (c-multi) and to the article's
pattern (py-httpx). The targets of the issue are checked from the same numbers.
"""

import argparse
import json
import statistics
from collections import OrderedDict, defaultdict

FLOOR = "c-multi"
ARTICLE = "py-httpx"
VOLLEY = ("volley-raw", "volley-py", "volley-node", "volley-socket")
WORKLOADS = OrderedDict(
    W1=("20,000 requests, no delay, concurrency 64", "overhead-bound"),
    W2=("2,000 requests at 100 ms, concurrency 500", "ideal 0.4 s"),
    W3=("10,000 requests at 100 ms, concurrency 2,000", "memory at fan-out; ideal 0.5 s"),
    W4=("as_completed of W2: 2,000 at 100 ms, concurrency 500", "time to first result and to last"),
    W5a=("W1 over HTTPS + HTTP/2: 20,000 requests, no delay, concurrency 64", "TLS and multiplexing: CPU per call, connections"),
    W5b=("W3 over HTTPS + HTTP/2: 10,000 requests at 100 ms, concurrency 2,000", "TLS at fan-out: connections, memory; ideal 0.5 s"),
)
TLS_WORKLOADS = ("W5a", "W5b")
PEER_NOTES = {
    "c-multi": "C, one libcurl multi handle, `curl_multi_poll` loop, easy handles reused; no JSON parsing (the floor)",
    "curl-parallel": "`curl --parallel --parallel-immediate`, one config file of N POSTs; curl caps `--parallel-max` at 300; whole process (config parsing included)",
    "volley-raw": "volley driven by a minimal C host: one `gather`/`as_completed` line, replies counted by substring (sidecar cost)",
    "volley-py": "volley through clients/python (`Volley.gather` / `as_completed`)",
    "volley-node": "volley through clients/node (`v.gather(items, { returnExceptions: true })` / `for await ... v.asCompleted`); "
                   "the sidecar's CPU and peak RSS from /proc at the end of the batch (its exit not included)",
    "volley-socket": "volley-raw's host talking to a shared daemon (`volley serve --socket`) over its Unix socket instead of stdio pipes",
    "py-httpx": "the article's pattern: asyncio + one shared httpx.AsyncClient (pool sized to the concurrency) + gather + semaphore, `response.json()`",
    "py-httpx-defaults": "the article's code as written: httpx default pool (100 connections, 20 keep-alive)",
    "py-aiohttp": "asyncio + one aiohttp.ClientSession (connector limit = concurrency) + gather + semaphore, `await response.json()`",
    "py-openai": "official SDK: AsyncOpenAI(max_retries=0), pool sized to the concurrency, gather + semaphore",
    "node-fetch": "Node global fetch (undici, keep-alive) with C workers pulling indices, `await response.json()`",
}
TLS_NOTES = {
    "c-multi": "HTTP/2: `CURL_HTTP_VERSION_2TLS`, `CURLOPT_PIPEWAIT`, `CURLPIPE_MULTIPLEX`, `CURLOPT_CAINFO`",
    "volley-raw": "provider `ca_file`; the sidecar asks for HTTP/2 by ALPN and multiplexes on its own",
    "volley-py": "provider `ca_file`",
    "volley-node": "provider `caFile`",
    "volley-socket": "provider `ca_file`",
    "py-httpx": "`httpx.AsyncClient(http2=True, verify=ssl_context)` (the `h2` package)",
    "py-aiohttp": "`TCPConnector(ssl=ssl_context)`; aiohttp has no HTTP/2",
    "py-openai": "`DefaultAsyncHttpxClient(verify=ssl_context)`; the SDK does not ask for HTTP/2",
    "node-fetch": "`NODE_EXTRA_CA_CERTS`; Node 20's fetch has no HTTP/2 without the undici package",
}


NOTES = [
    "Every peer sends the same body (`model`, one user message, `max_tokens: 16`) with the same two headers, "
    "over HTTP/1.1 keep-alive to one nginx worker; each gets a 645-byte chat.completion with `usage`.",
    "py-httpx (httpx 0.28 / httpcore 1.0.x) spends most of its CPU in httpcore's connection pool "
    "(`AsyncConnectionPool._assign_requests_to_connections` scans every connection, and `is_idle` of every connection "
    "for each idle one, on every request and release: O(connections²); encode/httpcore#1035, encode/httpx#3215). "
    "That, not the network, sets its wall at C = 500 and 2,000. py-openai (openai 3.57) uses the httpx2/httpcore2 fork, where that pass is linear but still walks every connection on every request and release.",
    "curl-parallel cannot run more than 300 transfers at once (`--parallel-max` is capped at 300), so its W2/W3 walls are "
    "not comparable to the others'; it has no as-completed mode (no W4 row).",
    "node-fetch's wall includes V8 warming up (its first results are late even at W4).",
    "W5a and W5b are W1 and W3 against nginx's HTTPS port (TLS 1.3 with an EC P-256 certificate of a throwaway CA, "
    "HTTP/2 offered by ALPN, nginx's default of 128 streams per connection). A peer asks for HTTP/2 when it can; the "
    "protocol column is what nginx logged for each connection, not what the peer says. No wrk row: wrk speaks HTTP/1.1 only. "
    "curl-parallel and py-httpx-defaults do not run W5.",
    "The C floor parses no JSON; every other peer parses each reply (volley parses it in the sidecar and writes an outcome).",
]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, digits=3, suffix=""):
    if x is None:
        return "—"
    if isinstance(x, float):
        if abs(x) >= 100:
            return f"{x:,.0f}{suffix}"
        if abs(x) >= 10:
            return f"{x:.1f}{suffix}"
        return f"{x:.{digits}f}{suffix}"
    return f"{x}{suffix}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    if r is None:
        return "—"
    return f"{r:.3f}×" if r < 0.1 else f"{r:.2f}×"


def protocol_text(runs):
    """What nginx saw the runs' connections speak: "HTTP/2.0 TLSv1.3", or a mix with counts."""
    total = defaultdict(int)
    for r in runs:
        for proto, count in (r.get("protocols") or {}).items():
            total[proto] += count
    if not total:
        return None
    if len(total) == 1:
        return next(iter(total))
    return ", ".join(f"{p} ×{c}" for p, c in sorted(total.items(), key=lambda kv: -kv[1]))


def aggregate(rows):
    """Group peer runs by (workload, peer) and reduce them."""
    groups = defaultdict(list)
    for r in rows:
        if r.get("peer") in ("wrk", "volley") and r.get("workload") == "startup":
            continue
        if r.get("peer") == "wrk":
            continue
        groups[(r["workload"], r["peer"])].append(r)
    out = {}
    for key, runs in groups.items():
        skipped = [r for r in runs if "skipped" in r]
        real = [r for r in runs if "skipped" not in r]
        if not real:
            out[key] = {"skipped": skipped[0]["skipped"], "runs": 0}
            continue
        done = [r for r in real if not r.get("timed_out")]
        n = real[0].get("n")
        total_cpu = [
            (r.get("cpu_s") or 0) + (r.get("sidecar_cpu_s") or 0) for r in done if r.get("cpu_s") is not None
        ]
        walls = [r["wall_s"] for r in done if r.get("wall_s") is not None]
        a = {
            "runs": len(real),
            "timeouts": len(real) - len(done),
            "timeout_s": max((r["proc_wall_s"] for r in real if r.get("timed_out")), default=None),
            "n": n,
            "concurrency": real[0].get("concurrency"),
            "wall": median(walls),
            "wall_min": min(walls) if walls else None,
            "wall_max": max(walls) if walls else None,
            "first": median(r.get("first_s") for r in done),
            "host_cpu": median(r.get("cpu_s") for r in done),
            "sidecar_cpu": median(r.get("sidecar_cpu_s") for r in done),
            "total_cpu": median(total_cpu),
            "proc_cpu": median(r.get("proc_cpu_s") for r in done),
            "host_rss_kb": max((r.get("maxrss_kb") or 0 for r in real), default=None),
            "sidecar_rss_kb": max((r.get("sidecar_maxrss_kb") or 0 for r in real), default=0) or None,
            "nginx_cpu": median(r.get("nginx_cpu_s") for r in done),
            "errors": sum((r.get("errors") or 0) for r in done) + sum(r.get("n") or 0 for r in real if r.get("timed_out")),
            "requests": sum(r.get("n") or 0 for r in real),
            "samples": sorted({r.get("error_sample") for r in real if r.get("error_sample")}),
            "effective_concurrency": real[0].get("effective_concurrency"),
            "connections": median(r.get("connections") for r in done),
            "protocols": protocol_text(done),
        }
        a["cpu_us"] = a["total_cpu"] / n * 1e6 if a["total_cpu"] is not None and n else None
        a["nginx_us"] = a["nginx_cpu"] / n * 1e6 if a["nginx_cpu"] is not None and n else None
        out[key] = a
    return out


def workload_table(w, agg, wrk, peers_order):
    floor = agg.get((w, FLOOR), {})
    article = agg.get((w, ARTICLE), {})
    lines = []
    as_completed = w == "W4"
    tls = w in TLS_WORKLOADS
    head = ["peer", "runs", "wall s (median; min–max)", "× C floor", "× article"]
    if as_completed:
        head.append("first result s")
    head += ["host CPU s", "sidecar CPU s", "CPU µs/req (host+sidecar)", "CPU × C floor", "CPU × article",
             "peak RSS host MB", "peak RSS sidecar MB", "nginx CPU µs/req", "connections"]
    if tls:
        head.append("protocol (nginx)")
    head.append("errors")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    if wrk:
        cells = ["**wrk (server ceiling)**", "1", f"{fmt(wrk.get('ideal_wall_s'))} (N at {fmt(wrk.get('rps'))} req/s)",
                 fmt_ratio(ratio(wrk.get("ideal_wall_s"), floor.get("wall"))), "—"]
        if as_completed:
            cells.append("—")
        cells += ["—"] * 7 + [fmt(wrk.get("nginx_us_per_req"), 1), str(wrk.get("concurrency") or "—")]
        if tls:
            cells.append("—")
        cells.append(str(wrk.get("errors")))
        lines.append("| " + " | ".join(cells) + " |")
    for p in peers_order:
        a = agg.get((w, p))
        if a is None:
            continue
        if a.get("skipped"):
            lines.append(f"| {p} | skipped: {a['skipped']} |" + " |" * (len(head) - 2))
            continue
        if a["timeouts"] and a["wall"] is None:
            wall_cell = f"> {a['timeout_s']:.0f} (killed)"
        else:
            wall_cell = f"{fmt(a['wall'])} ({fmt(a['wall_min'])}–{fmt(a['wall_max'])})"
            if a["timeouts"]:
                wall_cell += f"; {a['timeouts']} killed"
        name = f"**{p}**" if p in VOLLEY else p
        if a.get("effective_concurrency") and a["effective_concurrency"] != a["concurrency"]:
            name += f" (runs {a['effective_concurrency']} at once)"
        cells = [
            name,
            str(a["runs"]),
            wall_cell,
            fmt_ratio(ratio(a["wall"], floor.get("wall"))),
            fmt_ratio(ratio(a["wall"], article.get("wall"))),
        ]
        if as_completed:
            cells.append(fmt(a["first"]))
        cells += [
            fmt(a["host_cpu"]),
            fmt(a["sidecar_cpu"]),
            fmt(a["cpu_us"], 1),
            fmt_ratio(ratio(a["cpu_us"], floor.get("cpu_us"))),
            fmt_ratio(ratio(a["cpu_us"], article.get("cpu_us"))),
            fmt(a["host_rss_kb"] / 1024 if a["host_rss_kb"] else None, 1),
            fmt(a["sidecar_rss_kb"] / 1024 if a["sidecar_rss_kb"] else None, 1),
            fmt(a["nginx_us"], 1),
            fmt(round(a["connections"]) if a["connections"] is not None else None),
        ]
        if tls:
            cells.append(a["protocols"] or "—")
        cells.append(f"{a['errors']} / {a['requests']}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check(label, value_text, met):
    mark = "**met**" if met else ("**not met**" if met is not None else "not measured")
    return f"| {label} | {value_text} | {mark} |"


def targets(agg, startup):
    out = ["| target | measured | |", "|---|---|---|"]
    # volley-socket is not a default peer: its rows only when it ran.
    VOLLEY = [v for v in globals()["VOLLEY"] if v != "volley-socket" or any(p == v for (_, p) in agg)]
    f1 = agg.get(("W1", FLOOR), {})
    for v in VOLLEY:
        a = agg.get(("W1", v))
        if not a or a.get("skipped") or a.get("cpu_us") is None or not f1.get("cpu_us"):
            out.append(check(f"W1 {v}: CPU/request (host + sidecar) within 2× the C floor", "—", None))
            continue
        r = a["cpu_us"] / f1["cpu_us"]
        out.append(check(f"W1 {v}: CPU/request (host + sidecar) within 2× the C floor",
                         f"{a['cpu_us']:.1f} µs vs {f1['cpu_us']:.1f} µs = {r:.2f}×", r <= 2.0))
    for w in ("W2", "W3"):
        fw = agg.get((w, FLOOR), {})
        for v in VOLLEY:
            a = agg.get((w, v))
            if not a or a.get("skipped") or a.get("wall") is None or not fw.get("wall"):
                out.append(check(f"{w} {v}: wall within 10% of the C floor", "—", None))
                continue
            r = a["wall"] / fw["wall"]
            out.append(check(f"{w} {v}: wall within 10% of the C floor",
                             f"{a['wall']:.3f} s vs {fw['wall']:.3f} s = {r:.2f}×", r <= 1.10))
    for v in VOLLEY:
        a = agg.get(("W3", v))
        if not a or a.get("skipped") or not a.get("sidecar_rss_kb"):
            out.append(check(f"W3 {v}: sidecar peak RSS under 100 MB", "—", None))
            continue
        mb = a["sidecar_rss_kb"] / 1024
        out.append(check(f"W3 {v}: sidecar peak RSS under 100 MB", f"{mb:.1f} MB", mb < 100))
    if startup:
        out.append(check("start-up: spawn to first answered `ping` under 30 ms",
                         f"median {startup['median_ms']} ms, p90 {startup['p90_ms']} ms, max {startup['max_ms']} ms "
                         f"({startup['runs']} spawns; spawning `cat` the same way: {startup.get('cat_median_ms')} ms)",
                         startup["median_ms"] < 30))
    else:
        out.append(check("start-up: spawn to first answered `ping` under 30 ms", "—", None))
    return "\n".join(out)


def runs_table(rows):
    lines = ["| workload | peer | rep | wall s | first s | host CPU s | sidecar CPU s | process-tree CPU s (wait4) | "
             "host RSS MB | sidecar RSS MB | nginx CPU s | connections | ok | errors | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("peer") == "wrk":
            lines.append(f"| {r['workload']} | wrk -c{r['concurrency']} | — | {fmt(r.get('ideal_wall_s'))} (ideal) | — | — | — | — | — | — | "
                         f"{fmt(r.get('nginx_cpu_s'))} | {r['concurrency']} | {r.get('requests')} | {r.get('errors')} | {fmt(r.get('rps'))} req/s over {r.get('seconds')} s |")
            continue
        if r.get("workload") == "startup":
            continue
        if "skipped" in r:
            lines.append(f"| {r['workload']} | {r['peer']} | {r['rep']} | — | — | — | — | — | — | — | — | — | — | — | skipped |")
            continue
        note = "killed (timeout)" if r.get("timed_out") else (r.get("error_sample") or "")[:80].replace("|", "/")
        if r.get("workload") in TLS_WORKLOADS and r.get("protocols"):
            note = ", ".join(f"{p} ×{c}" for p, c in r["protocols"].items()) + (f"; {note}" if note else "")
        lines.append(
            f"| {r['workload']} | {r['peer']} | {r['rep']} | {fmt(r.get('wall_s'))} | {fmt(r.get('first_s'))} | "
            f"{fmt(r.get('cpu_s'))} | {fmt(r.get('sidecar_cpu_s'))} | {fmt(r.get('proc_cpu_s'))} | "
            f"{fmt((r.get('maxrss_kb') or 0) / 1024, 1)} | {fmt((r.get('sidecar_maxrss_kb') or 0) / 1024 or None, 1)} | "
            f"{fmt(r.get('nginx_cpu_s'))} | {fmt(r.get('connections'))} | {r.get('ok')} | {r.get('errors')} | {note} |"
        )
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--jsonl", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--profile")
    a = p.parse_args()
    rows = [json.loads(l) for l in open(a.jsonl) if l.strip()]
    meta = json.load(open(a.meta))
    agg = aggregate(rows)
    wrk = {r["workload"]: r for r in rows if r.get("peer") == "wrk"}
    startup = next((r for r in rows if r.get("workload") == "startup"), None)
    peers_order = meta.get("peers", [])
    m = meta.get("machine", {})

    print(f"# Volley benchmark: {meta.get('date')}\n")
    print(f"Run with `{meta.get('command')}` on branch `{meta.get('git', {}).get('branch')}` at "
          f"`{meta.get('git', {}).get('commit')}`{' (uncommitted changes)' if meta.get('git', {}).get('dirty') else ''}. "
          f"{meta.get('reps')} repetitions per peer (rep-major order, peers rotated each rep); medians below. "
          f"Scale {meta.get('scale')}.\n")
    print("## Machine\n")
    print("| | |\n|---|---|")
    for k in ("cpus", "cpu_model", "memory", "kernel", "swift", "libcurl", "nginx", "python", "python_packages",
              "node", "curl", "wrk", "perf", "volley_binary", "python_client", "node_client", "tls"):
        if k in m:
            print(f"| {k.replace('_', ' ')} | {m[k]} |")
    print(f"| pinning | {meta.get('pinning')} |")
    print()
    print("**Load from other sessions** (this machine is shared; their builds compete for the same cores):\n")
    for s in meta.get("load", []):
        print(f"- {s['at']}: load average {s['loadavg']}; busiest other processes: {s['top']}")
    print()
    print("## Targets\n")
    print(targets(agg, startup))
    print()
    for w, (title, sub) in WORKLOADS.items():
        if not any(k[0] == w for k in agg) and w not in wrk:
            continue
        print(f"## {w}: {title} ({sub})\n")
        print(workload_table(w, agg, wrk.get(w), peers_order))
        print()
        samples = [(pp, s) for (ww, pp), ag in agg.items() if ww == w for s in ag.get("samples", [])]
        if samples:
            print("Error samples: " + "; ".join(f"{pp}: `{s[:160]}`" for pp, s in samples) + "\n")
    print("## Columns\n")
    print("- **wall**: the peer's own work window: building the requests, sending them, reading and parsing every reply "
          "(no interpreter start-up or imports; for volley, the sidecar is already spawned and initialised: start-up is measured "
          "on its own above). curl-parallel is its whole process.\n"
          "- **host CPU**: user + system CPU of the host process in that window (getrusage / `process.cpuUsage()`), all threads.\n"
          "- **sidecar CPU**: the volley process's whole life from `wait4`/`RUSAGE_CHILDREN` (spawn, initialize, the batch, exit; "
          "start-up is a few ms).\n"
          "- **CPU µs/req**: (host + sidecar CPU) / N. nginx's worker is reported on its own (utime + stime from /proc, 10 ms ticks).\n"
          "- **peak RSS**: `ru_maxrss` of the host process and of the sidecar.\n"
          "- **× C floor / × article**: ratio to c-multi and to py-httpx in the same workload (lower is better).\n"
          "- **connections**: TCP connections nginx accepted during the run (stub_status `accepts` before and after; median "
          "over runs). HTTP/1.1 needs one per request in flight; HTTP/2 multiplexes up to 128 streams on one.\n"
          "- **protocol (nginx)** (W5): the connections that served a request, by `$server_protocol $ssl_protocol` in nginx's "
          "per-connection log.\n"
          "- **wrk row**: wrk -t1 against the same location at the workload's concurrency for a few seconds; its wall is the time "
          "N requests take at wrk's rate (never below ceil(N/C) × delay): the physical limit of this server on this machine.\n")
    print("## Peers\n")
    ran_tls = any(k[0] in TLS_WORKLOADS for k in agg)
    for pname in peers_order:
        if pname in PEER_NOTES:
            tls_note = f" Over TLS (W5): {TLS_NOTES[pname]}." if ran_tls and pname in TLS_NOTES else ""
            print(f"- **{pname}**: {PEER_NOTES[pname]}{tls_note}")
    print()
    print("## Notes\n")
    for n in NOTES + meta.get("notes", []):
        print(f"- {n}")
    print()
    if a.profile:
        print(open(a.profile).read().rstrip() + "\n")
    print("## How to rerun\n")
    print("```sh\n" + meta.get("command", "bench/run") + "\n```\n")
    print(meta.get("rerun_help", ""))
    print("\n<details><summary>Every run</summary>\n")
    print(runs_table(rows))
    print("\n</details>")


if __name__ == "__main__":
    main()
