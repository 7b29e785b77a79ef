#!/usr/bin/env python3
"""List the async functions of a Swift binary by the size of their async context (the task
frame each call takes while it is suspended), largest first.

    bench/tools/async_frames.py .build/release/volley [N] [NAME_FILTER ...]

Why: every item in flight keeps its whole chain of async frames in task-allocator slabs, so a
large frame costs memory times concurrency (Engine's item loop once took 11,280 bytes: ~23 MB at
2,000 in flight). The size is the second 32-bit word of each `async function pointer` symbol
(mangled names ending in `Tu`), read straight from the ELF file.
"""

import re
import struct
import subprocess
import sys


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    filters = sys.argv[3:]
    symbols = [line.split() for line in subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout.splitlines()]
    symbols = [s for s in symbols if len(s) == 3 and s[2].endswith("Tu")]
    sections = []
    for line in subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if m and int(m.group(2), 16) > 0 and m.group(1) not in (".bss", ".tbss"):
            sections.append((int(m.group(2), 16), int(m.group(3), 16), int(m.group(4), 16)))
    data = open(binary, "rb").read()
    sizes = []
    for address, _, name in symbols:
        a = int(address, 16)
        for start, offset, size in sections:
            if start <= a < start + size:
                _, context = struct.unpack("<iI", data[offset + a - start: offset + a - start + 8])
                sizes.append((context, name))
                break
    names = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(n for _, n in sizes),
                           capture_output=True, text=True).stdout.splitlines()
    rows = [(size, plain.replace("async function pointer to ", "")) for (size, _), plain in zip(sizes, names)]
    if filters:
        rows = [r for r in rows if any(f in r[1] for f in filters)]
    for size, name in sorted(rows, reverse=True)[:count]:
        print(f"{size:7d}  {name}")


if __name__ == "__main__":
    main()
