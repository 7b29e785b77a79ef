#!/usr/bin/env python3
"""Run one peer once and append its result, with the process tree's and nginx's costs, to a JSONL file.

    runone.py --jsonl FILE --workload W1 --peer NAME --rep K [--nginx-pid PID] [--timeout S]
              [--log FILE] [--nginx-status URL] [--nginx-conn-log FILE] -- COMMAND...

The peer prints one JSON line (its own work-window measurements). This adds:
  proc_wall_s, proc_cpu_s, proc_maxrss_kb   the whole command from wait4: interpreter start-up,
                                            imports and every child it reaped (the sidecar) included
  nginx_cpu_s                               the nginx worker's utime+stime over the run (/proc ticks)
  connections                               connections nginx accepted during the run (stub_status
                                            `accepts` after minus before, less the one that asked)
  protocols                                 {"HTTP/2.0 TLSv1.3": 1, ...}: the connections that served
                                            a request, by protocol (nginx's per-connection log)
  exit, timed_out
A command still running after --timeout seconds is killed with its process group (it was started
in its own session) and recorded with timed_out=true.

The command is started by a forked bash, not directly: Linux carries a process's peak RSS across
fork+execve (the forking parent's high-water mark becomes the child's floor), so a C peer forked
straight from this Python process would report Python's ~14 MB as its own peak.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def accepts(url: str | None) -> int | None:
    """nginx's count of accepted connections (stub_status), this request's own included."""
    if not url:
        return None
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            text = r.read().decode()
        # "server accepts handled requests\n A H R"
        return int(text.split("requests", 1)[1].split()[0])
    except (OSError, ValueError, IndexError):
        return None


def log_size(path: str | None) -> int:
    try:
        return os.path.getsize(path) if path else 0
    except OSError:
        return 0


def protocols(path: str | None, offset: int) -> dict | None:
    """The per-connection log lines appended since `offset`, counted by protocol."""
    if not path:
        return None
    counts: dict[str, int] = {}
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            for line in f.read().decode(errors="replace").splitlines():
                # $connection $server_port $server_protocol $ssl_protocol $http2
                fields = line.split()
                if len(fields) < 3:
                    continue
                proto = fields[2] + (f" {fields[3]}" if len(fields) > 3 and fields[3] != "-" else "")
                counts[proto] = counts.get(proto, 0) + 1
    except OSError:
        return None
    return counts


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--jsonl", required=True)
    p.add_argument("--workload", required=True)
    p.add_argument("--peer", required=True)
    p.add_argument("--rep", type=int, default=1)
    p.add_argument("--nginx-pid", type=int)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--log", default=None, help="append the command's stderr here")
    p.add_argument("--nginx-status", default=None, help="nginx stub_status URL (connections accepted)")
    p.add_argument("--nginx-conn-log", default=None, help="nginx's per-connection log (protocols)")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd

    out = tempfile.TemporaryFile()
    err = open(a.log, "ab") if a.log else subprocess.DEVNULL
    accepts0 = accepts(a.nginx_status)
    log0 = log_size(a.nginx_conn_log)
    ngx0 = proc_cpu(a.nginx_pid) if a.nginx_pid else None
    t0 = time.perf_counter()
    # `; exit $?` keeps bash from exec-ing the command in place: it must fork it.
    proc = subprocess.Popen(["bash", "-c", '"$@"; exit $?', "bash", *cmd], stdout=out, stderr=err,
                            start_new_session=True)
    timed_out = False
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - t0 > a.timeout:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, ru = os.wait4(proc.pid, 0)
            break
        time.sleep(0.005)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen quiet
    ngx1 = proc_cpu(a.nginx_pid) if a.nginx_pid else None
    # nginx's one worker answers this after it has logged every request it served before.
    accepts1 = accepts(a.nginx_status)
    protos = protocols(a.nginx_conn_log, log0)

    out.seek(0)
    lines = [l for l in out.read().decode(errors="replace").splitlines() if l.strip().startswith("{")]
    try:
        result = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        result = {}
    if not result:
        result = {"errors": None, "error_sample": "no result line from the peer"}
    result.update(
        workload=a.workload,
        peer=a.peer,
        rep=a.rep,
        proc_wall_s=round(wall, 6),
        proc_cpu_s=round(ru.ru_utime + ru.ru_stime, 6),
        proc_maxrss_kb=ru.ru_maxrss,
        nginx_cpu_s=round(ngx1 - ngx0, 3) if ngx0 is not None and ngx1 is not None else None,
        connections=accepts1 - accepts0 - 1 if accepts0 is not None and accepts1 is not None else None,
        protocols=protos,
        exit=proc.returncode,
        timed_out=timed_out,
    )
    if timed_out:
        result["error_sample"] = f"killed after {a.timeout:.0f} s"
    with open(a.jsonl, "a") as f:
        f.write(json.dumps(result) + "\n")

    if "skipped" in result:
        print(f"  {a.workload} {a.peer:<18} rep {a.rep}: skipped ({result['skipped']})", file=sys.stderr)
    else:
        wall_s = result.get("wall_s")
        print(
            f"  {a.workload} {a.peer:<18} rep {a.rep}: wall {wall_s if wall_s is not None else '-'} s, "
            f"ok {result.get('ok')}, errors {result.get('errors')}"
            + (f", sidecar cpu {result['sidecar_cpu_s']} s" if "sidecar_cpu_s" in result else "")
            + (f", {result['connections']} connections" if result.get("connections") is not None else "")
            + (" (" + ", ".join(f"{k} {v}" for k, v in protos.items()) + ")" if protos else "")
            + (" TIMEOUT" if timed_out else ""),
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
