"""curl's own parallel mode: one `curl --parallel --parallel-immediate --parallel-max C -K FILE`
whose config file holds N POSTs (url, data, headers, `-o /dev/null`, `-w %{http_code}`), each
ended by `next`.

curl caps --parallel-max at 300 (tool_getparam.c, MAX_PARALLEL), so workloads above that run
at 300. `--parallel-immediate` opens connections at once instead of waiting to multiplex (which
HTTP/1.1 cannot do anyway). No JSON parsing: a transfer is ok when its status is 200.
This wrapper writes the config before the clock starts; wall_s, cpu_s and maxrss_kb are curl's
whole process (wait4), start-up included.
"""

import json
import os
import resource
import subprocess
import tempfile
import time

from _common import emit, parse_args, Window

MAX_PARALLEL = 300


def main() -> None:
    args = parse_args(__doc__)
    url = args.base_url.rstrip("/") + "/chat/completions"
    fd, path = tempfile.mkstemp(prefix="curl-parallel-", suffix=".cfg")
    with os.fdopen(fd, "w") as f:
        for i in range(args.n):
            data = json.dumps(
                {"model": "m", "messages": [{"role": "user", "content": f"Say hello, request {i}"}], "max_tokens": 16},
                separators=(",", ":"),
            )
            f.write(f'url = "{url}"\n')
            f.write("data = " + json.dumps(data) + "\n")
            f.write('header = "Content-Type: application/json"\nheader = "Authorization: Bearer x"\n')
            f.write('output = "/dev/null"\nwrite-out = "%{http_code}\\n"\nsilent\n')
            if i + 1 < args.n:
                f.write("next\n")
    cmd = ["curl", "--parallel", "--parallel-immediate", "--parallel-max", str(args.concurrency), "-K", path]
    w = Window()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    w.wall = time.perf_counter() - t0
    # communicate() reaped curl already; its rusage is in RUSAGE_CHILDREN.
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    w.cpu = ru.ru_utime + ru.ru_stime
    os.unlink(path)
    codes = out.decode().split()
    ok = sum(1 for c in codes if c == "200")
    errors = args.n - ok
    sample = "" if not errors else f"exit {proc.returncode}; statuses {sorted(set(codes))[:5]}; {err.decode()[:200]}"
    emit(
        "curl-parallel", args, w, ok, errors, sample,
        maxrss_kb=ru.ru_maxrss, effective_concurrency=min(args.concurrency, MAX_PARALLEL),
    )


main()
