#!/usr/bin/env python3
"""Run one peer once and append its result, with the process tree's and nginx's costs, to a JSONL file.

    runone.py --jsonl FILE --workload W1 --peer NAME --rep K [--nginx-pid PID] [--timeout S]
              [--log FILE] -- COMMAND...

The peer prints one JSON line (its own work-window measurements). This adds:
  proc_wall_s, proc_cpu_s, proc_maxrss_kb   the whole command from wait4: interpreter start-up,
                                            imports and every child it reaped (the sidecar) included
  nginx_cpu_s                               the nginx worker's utime+stime over the run (/proc ticks)
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

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--jsonl", required=True)
    p.add_argument("--workload", required=True)
    p.add_argument("--peer", required=True)
    p.add_argument("--rep", type=int, default=1)
    p.add_argument("--nginx-pid", type=int)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--log", default=None, help="append the command's stderr here")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd

    out = tempfile.TemporaryFile()
    err = open(a.log, "ab") if a.log else subprocess.DEVNULL
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
            + (" TIMEOUT" if timed_out else ""),
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
