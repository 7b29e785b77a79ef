// Volley through its Node client (clients/node): one `new Volley({...})`, `await v.start()`,
// then one `await v.gather(items, { returnExceptions: true, concurrency: C })` (or
// `for await (const o of v.asCompleted(items, { concurrency: C }))`), each result's `.text` read.
//   node volley_node.mjs N CONCURRENCY BASE_URL [--mode gather|as_completed] [--ca-file PEM]
// The sidecar binary is $VOLLEY_BIN; it gets `--max-connections-per-host CONCURRENCY`, and
// --ca-file becomes the provider's `ca_file` (over https:// the sidecar asks for HTTP/2 by ALPN).
// The client is imported from $VOLLEY_NODE_CLIENT (the package's entry, src/index.js) when set,
// else from this checkout's clients/node; when it is missing this prints {"skipped": ...}.
//
// Prints one JSON line. wall_s and cpu_s (process.cpuUsage, all threads) cover the work window,
// with the sidecar already spawned and initialised. Node does not give a child's rusage, so the
// sidecar is read from /proc after the batch and before close(): sidecar_cpu_s is its utime +
// stime from spawn to the end of the batch (10 ms ticks; its exit, a few ms, is not in it),
// sidecar_cpu_window_s the part in the work window, sidecar_maxrss_kb its peak RSS (VmHWM, what
// wait4 reports as ru_maxrss). bench/tools/runone.py's process-tree CPU (wait4) has it all.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const [n, concurrency] = [Number(process.argv[2]), Number(process.argv[3])];
const baseUrl = process.argv[4];
const flag = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const mode = flag('--mode', 'gather');
const caFile = flag('--ca-file', undefined);

const here = dirname(fileURLToPath(import.meta.url));
const entry = process.env.VOLLEY_NODE_CLIENT || resolve(here, '..', '..', 'clients', 'node', 'src', 'index.js');
if (!existsSync(entry)) {
  console.log(JSON.stringify({ peer: 'volley-node', mode, n, concurrency,
    skipped: `clients/node not found at ${entry} (set VOLLEY_NODE_CLIENT=/path/to/clients/node/src/index.js)` }));
  process.exit(0);
}
const { Volley, chat } = await import(pathToFileURL(entry).href);

const TICK = 100; // USER_HZ: the clock ticks of /proc/<pid>/stat (100 on Linux, as sysconf(_SC_CLK_TCK))
function procCpu(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop().split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICK; // utime, stime: fields 14 and 15
  } catch {
    return null;
  }
}
function procPeakRss(pid) {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

const bench = {
  kind: 'openai',
  baseUrl,
  apiKey: 'x',
  limits: { concurrency, rpm: 100_000_000, tpm: 10_000_000_000 },
  retry: { maxRetries: 0 },
};
if (caFile) bench.caFile = caFile;
const v = new Volley({
  binary: process.env.VOLLEY_BIN || undefined,
  providers: { bench },
  defaultProvider: 'bench',
  args: ['--max-connections-per-host', String(concurrency)],
});

let ok = 0, errors = 0, sample = '', first = null;
let wall, cpu, pid, side0, side1, peak;
try {
  await v.start();
  pid = v.pid;
  side0 = procCpu(pid);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const items = Array.from({ length: n }, (_, i) => chat(`Say hello, request ${i}`, { model: 'm', maxTokens: 16 }));
  if (mode === 'gather') {
    const results = await v.gather(items, { returnExceptions: true, concurrency });
    first = (performance.now() - t0) / 1000;
    for (const r of results) {
      if (r instanceof Error) {
        errors++;
        sample ||= `${r.name}: ${r.message}`;
      } else {
        void r.text;
        ok++;
      }
    }
  } else {
    for await (const outcome of v.asCompleted(items, { concurrency })) {
      if (first === null) first = (performance.now() - t0) / 1000;
      if (outcome.ok) {
        void outcome.value.text;
        ok++;
      } else {
        errors++;
        sample ||= `${outcome.error?.name}: ${outcome.error?.message}`;
      }
    }
  }
  wall = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu0);
  cpu = (used.user + used.system) / 1e6;
  side1 = procCpu(pid);
  peak = procPeakRss(pid);
} catch (e) {
  errors = n - ok;
  sample ||= `${e?.name}: ${e?.message}`;
} finally {
  await v.close();
}

const round = (x, d = 6) => (x == null ? null : Number(x.toFixed(d)));
console.log(
  JSON.stringify({
    peer: 'volley-node',
    mode,
    n,
    concurrency,
    ok,
    errors,
    wall_s: round(wall),
    first_s: round(first),
    cpu_s: round(cpu),
    maxrss_kb: process.resourceUsage().maxRSS,
    sidecar_cpu_s: round(side1),
    sidecar_cpu_window_s: side0 != null && side1 != null ? round(side1 - side0, 3) : null,
    sidecar_maxrss_kb: peak,
    error_sample: sample.slice(0, 300),
    node_version: process.version,
    client: entry,
  }),
);
process.exitCode = errors ? 1 : 0;
