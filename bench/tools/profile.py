#!/usr/bin/env python3
"""Profile the sidecar on W1 with perf (cpu-clock sampling, DWARF call graphs so that inclusive
shares cross libc, libcurl and the Swift runtime), and the C floor the same way for comparison;
print a markdown section.

    profile.py --volley BIN --raw VOLLEY_RAW --floor C_MULTI --url BASE_URL --n N --concurrency C
               --out-dir DIR [--pin CPUS] [--freq 4999]

Why perf and cpu-clock: valgrind 3.19 (Debian 12) dies with "VALGRIND INTERNAL ERROR ... SIGSEGV"
on this Swift 6.3 binary even with --tool=none, and this VM exposes no hardware counters
(`perf stat -e instructions` says <not supported>), so shares are of CPU-time samples, not of
instructions. The raw perf.data files stay in DIR for `perf report -i DIR/volley.perf.data`.
"""

import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys


def demangle(lines):
    swift = shutil.which("swift")
    if not swift:
        return lines
    p = subprocess.run([swift, "demangle", "--simplified"], input="\n".join(lines), capture_output=True, text=True)
    return p.stdout.splitlines() if p.returncode == 0 else lines


def perf_report(data, *args):
    p = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none", *args],
                       capture_output=True, text=True)
    return [l for l in p.stdout.splitlines() if l.strip() and not l.startswith("#")]


def by_dso(data):
    out = []
    for l in perf_report(data, "--no-children", "--sort", "dso"):
        m = re.match(r"\s*([\d.]+)%\s+(.+?)\s*$", l)
        if m:
            out.append((float(m.group(1)), m.group(2)))
    return out


def symbols(data, children, dso_filter=None, limit=30):
    args = ["--children" if children else "--no-children", "--sort", "dso,sym"]
    rows = []
    for l in perf_report(data, *args):
        if children:
            m = re.match(r"\s*([\d.]+)%\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$", l)
            if not m:
                continue
            pct, dso, sym = float(m.group(1)), m.group(3), m.group(5)
        else:
            m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$", l)
            if not m:
                continue
            pct, dso, sym = float(m.group(1)), m.group(2), m.group(4)
        if dso_filter and dso != dso_filter:
            continue
        rows.append((pct, dso, sym.strip()))
    names = demangle([r[2] for r in rows])
    seen, out = set(), []
    for (pct, dso, _), name in zip(rows, names):
        if name in seen or re.fullmatch(r"0x[0-9a-f]+|0+", name):
            continue
        seen.add(name)
        out.append((pct, dso, name))
        if len(out) >= limit:
            break
    return out


def archive_functions(paths):
    """Names of the functions defined in these static archives or objects (global and local: a
    static function of libcurl is sampled under its own name too)."""
    names = set()
    for path in paths:
        p = subprocess.run(["nm", "--defined-only", path], capture_output=True, text=True)
        for line in p.stdout.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TtWw":
                names.add(parts[2])
    return names


ALLOCATOR = {"malloc", "free", "calloc", "realloc", "posix_memalign", "aligned_alloc", "malloc_usable_size",
             "operator new", "operator delete", "operator delete[]", "operator new[]", "__libc_cfree (inlined)"}


def component(dso, sym, binary, c_functions):
    """Which part of the process a sampled function belongs to. In a static binary everything is
    one `dso`: its functions are told apart by name (`$s`: Swift, the standard library's
    specialisations included; `volley_`: the C shims; the archives' own: the C libraries linked
    in; `mi_`: mimalloc; `@plt`: calls into glibc; the rest: the Swift runtime)."""
    if dso == "[kernel.kallsyms]":
        return "kernel (system calls, network stack, page faults)"
    if dso == "[vdso]":
        return "vDSO (clock_gettime)"
    if re.match(r"(libc|ld-linux|libm|libgcc_s|libpthread)[.-]", dso):
        return "glibc and the loader"
    if re.match(r"lib(curl|nghttp2|z|ssl|crypto|gnutls|nettle|hogweed|gmp|brotli|zstd|idn2|psl|ssh)", dso):
        return "libcurl, nghttp2, zlib, TLS"
    if dso != binary:
        return "other libraries"
    if sym in ALLOCATOR or sym.startswith(("mi_", "_mi_")):
        return "allocator (mimalloc)"
    if sym in c_functions:
        return "libcurl, nghttp2, zlib, TLS"
    if sym.endswith("@plt"):
        return "glibc and the loader"
    if sym.startswith(("$s", "_$s", "volley_")):
        return "Volley's code (Swift, its C shims) and the Swift standard library"
    return "Swift runtime (reference counts, tasks, executors)"


def by_component(data, binary, c_functions):
    shares = {}
    for line in perf_report(data, "--no-children", "--sort", "dso,sym"):
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$", line)
        if m:
            key = component(m.group(2), m.group(4).strip(), binary, c_functions)
            shares[key] = shares.get(key, 0.0) + float(m.group(1))
    return shares


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        sys.stderr.write(p.stderr[-2000:])
        raise SystemExit(f"profile: no result from {cmd[0]}")
    return json.loads(lines[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--volley", required=True)
    p.add_argument("--raw", required=True)
    p.add_argument("--floor", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--pin", default="")
    p.add_argument("--freq", type=int, default=2999)
    p.add_argument("--label", default="W1")
    p.add_argument("--archives", default="",
                   help="colon-separated static archives linked into --volley (libcurl.a, libnghttp2.a, ...), "
                        "so that their functions count as the C libraries' and not as Swift's")
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    vdata = os.path.join(a.out_dir, "volley.perf.data")
    fdata = os.path.join(a.out_dir, "floor.perf.data")
    perf = ["perf", "record", "-q", "-e", "cpu-clock", "-F", str(a.freq), "--call-graph", "dwarf,16384"]
    pin = ["taskset", "-c", a.pin] if a.pin else []

    wrapper = os.path.join(a.out_dir, "volley-under-perf")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec " + " ".join(perf + ["-o", vdata, "--", a.volley]) + ' "$@"\n')
    os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IEXEC)
    env = dict(os.environ, VOLLEY_BIN=wrapper)
    vres = run(pin + [a.raw, str(a.n), str(a.concurrency), a.url], env)
    fres = run(pin + perf + ["-o", fdata, "--", a.floor, str(a.n), str(a.concurrency), a.url])

    n = a.n
    side_cpu = vres["sidecar_cpu_s"]
    floor_cpu = fres["cpu_s"]
    print(f"## Profile: the sidecar on {a.label}\n")
    print(f"`perf record -e cpu-clock -F {a.freq} --call-graph dwarf,16384` around the sidecar while "
          f"`volley_raw {n} {a.concurrency}` drives it, and around `c_multi {n} {a.concurrency}` for comparison. "
          f"Under perf: sidecar {side_cpu:.3f} s CPU = {side_cpu / n * 1e6:.1f} µs/request "
          f"(wall {vres['wall_s']:.3f} s, {vres['errors']} errors); C floor {floor_cpu:.3f} s = "
          f"{floor_cpu / n * 1e6:.1f} µs/request. Percentages are shares of the process's CPU samples; "
          "µs/request = share × that process's CPU / N; perf's own overhead inflates both CPU figures "
          "(compare the W1 table). valgrind 3.19 cannot run this binary (internal SIGSEGV, "
          "even `--tool=none`) and the VM has no instruction counter, so these are time samples, not instructions.\n")

    vd, fd = by_dso(vdata), by_dso(fdata)
    fmap = {d: pct for pct, d in fd}
    print("### Where the CPU goes, by library\n")
    print("| library | sidecar % | sidecar µs/req | C floor % | C floor µs/req |\n|---|---|---|---|---|")
    for pct, d in vd[:12]:
        f = fmap.get(d)
        print(f"| {d} | {pct:.1f} | {pct / 100 * side_cpu / n * 1e6:.1f} | "
              f"{'—' if f is None else f'{f:.1f}'} | {'—' if f is None else f'{f / 100 * floor_cpu / n * 1e6:.1f}'} |")
    print()
    binary = os.path.basename(a.volley)
    c_functions = archive_functions([x for x in a.archives.split(":") if x])
    vc, fc = by_component(vdata, binary, c_functions), by_component(fdata, os.path.basename(a.floor), set())
    print("### Where the CPU goes, by component\n")
    print("The sidecar's functions sorted by name into the parts of the process (a static binary is one library "
          "above)" + (", the C libraries' by the symbols of the archives it links" if c_functions else
                      "; without --archives, libcurl linked in statically counts as the Swift runtime") + ".\n")
    print("| component | sidecar % | sidecar µs/req | C floor % | C floor µs/req |\n|---|---|---|---|---|")
    for name in sorted(set(vc) | set(fc), key=lambda k: -vc.get(k, 0.0)):
        v, f = vc.get(name), fc.get(name)
        cell = lambda x, cpu: ("—", "—") if x is None else (f"{x:.1f}", f"{x / 100 * cpu / n * 1e6:.1f}")
        (vp, vu), (fp, fu) = cell(v, side_cpu), cell(f, floor_cpu)
        print(f"| {name} | {vp} | {vu} | {fp} | {fu} |")
    print()
    print("### Top functions by self time (sidecar)\n")
    print("| % self | µs/req | library | function |\n|---|---|---|---|")
    for pct, dso, name in symbols(vdata, children=False, limit=30):
        print(f"| {pct:.2f} | {pct / 100 * side_cpu / n * 1e6:.2f} | {dso} | `{name[:140]}` |")
    print()
    print("### Top Volley functions, inclusive (self + callees)\n")
    print("| % incl. | µs/req | function |\n|---|---|---|")
    for pct, dso, name in symbols(vdata, children=True, dso_filter=os.path.basename(a.volley), limit=40):
        print(f"| {pct:.2f} | {pct / 100 * side_cpu / n * 1e6:.2f} | `{name[:140]}` |")
    print()
    print("### Runtime and system entry points, inclusive (sidecar)\n")
    print("Threads: `TransferLoop.run` is the curl thread; `swift_job_run` the Swift concurrency pool (engine, "
          "RPC handlers, provider decode); `LineReader.run` stdin.\n")
    print("| % incl. | µs/req | library | function |\n|---|---|---|---|")
    wanted = {"TransferLoop.run()", "swift_job_run", "LineReader.run()", "curl_multi_perform", "curl_multi_poll",
              "curl_multi_add_handle", "curl_multi_remove_handle", "curl_easy_init", "curl_easy_cleanup",
              "curl_easy_setopt", "swift_allocObject", "_swift_release_dealloc", "swift_retain", "swift_release",
              "__GI___libc_malloc (inlined)", "malloc", "__GI___libc_free (inlined)", "cfree@GLIBC_2.2.5",
              "__libc_send (inlined)", "__libc_recv", "__GI___poll", "__poll", "write", "__libc_write",
              "__x64_sys_futex", "__x64_sys_sendto", "__x64_sys_recvfrom", "__x64_sys_poll", "__x64_sys_write",
              "__x64_sys_read", "asm_exc_page_fault", "swift_task_enqueueGlobalImpl(swift::Job*)",
              "swift_task_create", "swift_task_dealloc", "swift_task_alloc"}
    for pct, dso, name in symbols(vdata, children=True, limit=3000):
        if name in wanted:
            print(f"| {pct:.2f} | {pct / 100 * side_cpu / n * 1e6:.2f} | {dso} | `{name}` |")
    print()
    print(f"Raw data: `perf report -i {vdata}` (and `{fdata}`), `--children --sort dso,sym`, piped through "
          "`swift demangle --simplified`.\n")


if __name__ == "__main__":
    main()
