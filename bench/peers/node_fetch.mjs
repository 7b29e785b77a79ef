// Node 20+ global fetch (undici, keep-alive) with a concurrency limiter: C workers pull the
// next index until N are done; `await response.json()` and the message content per call.
//   node node_fetch.mjs N CONCURRENCY BASE_URL [--mode gather|as_completed] [--ca-file PEM]
// Prints one JSON line; wall_s and cpu_s (process.cpuUsage, all threads) cover the work window.
// Over https:// (W5) fetch speaks HTTP/1.1 (Node 20's fetch has no HTTP/2 without the undici
// package) and trusts only what Node reads at start-up: run it with NODE_EXTRA_CA_CERTS=PEM;
// --ca-file PEM checks that this is so.
import { performance } from "node:perf_hooks";

const [n, concurrency] = [Number(process.argv[2]), Number(process.argv[3])];
const url = process.argv[4].replace(/\/$/, "") + "/chat/completions";
const modeAt = process.argv.indexOf("--mode");
const mode = modeAt > 0 ? process.argv[modeAt + 1] : "gather";
const caAt = process.argv.indexOf("--ca-file");
if (caAt > 0 && process.env.NODE_EXTRA_CA_CERTS !== process.argv[caAt + 1]) {
  console.error(`node_fetch: --ca-file ${process.argv[caAt + 1]} needs NODE_EXTRA_CA_CERTS=${process.argv[caAt + 1]} in the environment`);
  process.exit(2);
}

const body = (i) =>
  JSON.stringify({ model: "m", messages: [{ role: "user", content: `Say hello, request ${i}` }], max_tokens: 16 });

async function call(i) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer x" },
    body: body(i),
  });
  if (!response.ok) {
    await response.arrayBuffer();
    throw new Error(`HTTP ${response.status}`);
  }
  const data = await response.json();
  return data.choices[0].message.content;
}

let ok = 0, errors = 0, sample = "", first = null;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const results = new Array(n);
let next = 0;
async function worker() {
  for (;;) {
    const i = next++;
    if (i >= n) return;
    try {
      results[i] = await call(i);
      ok++;
    } catch (e) {
      results[i] = e;
      errors++;
      sample ||= String(e && e.cause ? `${e.message}: ${e.cause}` : e);
    }
    // as_completed: the host sees each result as it lands; gather: only when all are done.
    if (mode === "as_completed" && first === null) first = (performance.now() - t0) / 1000;
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
const wall = (performance.now() - t0) / 1000;
if (first === null) first = wall;
const cpu = process.cpuUsage(cpu0);
console.log(
  JSON.stringify({
    peer: "node-fetch",
    mode,
    n,
    concurrency,
    ok,
    errors,
    wall_s: wall,
    first_s: first,
    cpu_s: (cpu.user + cpu.system) / 1e6,
    maxrss_kb: process.resourceUsage().maxRSS,
    error_sample: sample.slice(0, 300),
    node_version: process.version,
  }),
);
