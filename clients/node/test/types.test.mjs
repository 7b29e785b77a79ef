// The TypeScript types reach every way of importing the library: the package name (the
// `types` condition) and a path to the entry file (a .d.ts next to it). With a `tsc` on PATH
// a fixture is compiled against them; without one, that part is skipped.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { clientDir } from './helpers.mjs';

const manifest = JSON.parse(readFileSync(join(clientDir, 'package.json'), 'utf8'));

test('every JavaScript entry has its types next to it, and the types condition names a file', () => {
  const entries = [manifest.main, manifest.exports['.'].default];
  for (const entry of entries) {
    const types = join(clientDir, entry.replace(/\.js$/, '.d.ts'));
    assert.ok(existsSync(types), `${entry} has no ${types}: an import by path would get no types`);
  }
  assert.ok(existsSync(join(clientDir, manifest.types)));
  assert.ok(existsSync(join(clientDir, manifest.exports['.'].types)));
  assert.equal(Object.keys(manifest.exports['.'])[0], 'types', 'the types condition must come first');
});

const tsc = spawnSync('tsc', ['--version'], { encoding: 'utf8' });

test('a strict TypeScript program importing src/index.js by path compiles, and a misspelt option does not', { skip: tsc.status !== 0 && 'no tsc on PATH' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'volley-types-'));
  try {
    const entry = join(clientDir, 'src', 'index.js');
    writeFileSync(
      join(dir, 'use.mts'),
      `import { Volley, chat, defaultSocketPath, HTTPError, REQUEST_PARAMS, StreamAssembler, type ChatStream, type GatherResults, type ChatValue, type ConnectionStats, type Outcome, type StreamResult, type ToolCallDelta } from ${JSON.stringify(entry)};
const v = new Volley({ defaultModel: 'm' });
const shared = new Volley({ shared: true, socket: defaultSocketPath({ VOLLEY_SOCKET: '/tmp/x/v.sock' }) });
const where: string | undefined = shared.socketPath;
const connections: ConnectionStats[] | undefined = (await shared.stats()).connections;
const daemon: number | undefined = (await shared.start()).server.pid ?? shared.info?.connection;
console.log(where, connections?.[0]?.itemsPending, daemon);
const results: GatherResults<ChatValue> = await v.gather([chat('hi', { maxTokens: 5, timeout: 2, extraBody: { x: 1 } })]);
const n: number = results.stats.succeeded + results.outcomes[0].attempts + (results[0].text ?? '').length;
try { await v.call('x'); } catch (e) { if (e instanceof HTTPError) { const a: number | undefined = e.attempts; console.log(a); } }
const dispose: () => Promise<void> = () => v[Symbol.asyncDispose]();
console.log(n, REQUEST_PARAMS.has('top_p'), dispose);
const s = v.stream('hi', { maxTokens: 5, mock: { chunkDelayMs: 5, failAfterChunks: 1 }, signal: new AbortController().signal });
for await (const chunk of s) {
  const piece: string = chunk.text;
  if (chunk.type === 'delta') { const calls: ToolCallDelta[] | undefined = chunk.toolCalls; console.log(piece, calls, chunk.attempt); }
}
const r: StreamResult = await s.result;
const ttft: number | undefined = r.ttftMs;
const item: ChatStream = v.stream(chat('x', { stream: true }), { signal: undefined });
console.log(ttft, item.text, item.toolCalls[0]?.function.arguments);
for await (const event of v.asCompleted(['a'], { deltas: true })) {
  if (event.type === 'outcome') { const o: Outcome = event; console.log(o.ttftMs); } else new StreamAssembler().apply(event);
}
for await (const outcome of v.asCompleted(['a'], { onDelta: (c) => console.log(c.index) })) { const ms: number | undefined = outcome.ttftMs; console.log(ms); }
await v.gather([{ request: { messages: [] }, stream: true }], { onDelta: (c) => console.log(c.type) });
`,
    );
    writeFileSync(join(dir, 'typo.mts'), `import { chat } from ${JSON.stringify(entry)};\nchat('x', { timout: 1 });\n`);
    const flags = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext'];
    execFileSync('tsc', [...flags, join(dir, 'use.mts')], { encoding: 'utf8' });
    const typo = spawnSync('tsc', [...flags, join(dir, 'typo.mts')], { encoding: 'utf8' });
    assert.notEqual(typo.status, 0);
    assert.match(typo.stdout, /'timout' does not exist in type 'ChatOptions'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the README documents every mock script field the sidecar reads', () => {
  const source = readFileSync(join(clientDir, '..', '..', 'Sources', 'VolleyCore', 'Providers', 'MockClient.swift'), 'utf8');
  const fields = new Set([...source.matchAll(/script\?\["([a-z_]+)"\]/g)].map((m) => m[1]));
  assert.ok(fields.has('latency_ms') && fields.has('fail'), 'found the fields in MockClient.swift');
  const readme = readFileSync(join(clientDir, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### The mock provider'), readme.indexOf('### Cancellation'));
  const documented = new Set([...section.matchAll(/^\| `([a-z_]+)`/gm)].map((m) => m[1]));
  assert.deepEqual([...documented].sort(), [...fields].sort());
});
