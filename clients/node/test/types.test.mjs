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
import { type AsCompleted, type BatchStats, type ProviderBudgetStats } from ${JSON.stringify(entry)};
import { embed, respond, complete, post, decodeEmbedding, VolleyError, type EmbeddingsValue, type ResponsesValue, type CompletionValue, type PostValue, type EmbeddingsItem, type PostItem, type ToolCall, type Value } from ${JSON.stringify(entry)};
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
// Costs and budgets.
const budgeted: GatherResults<ChatValue> = await v.gather(['a'], { maxCostUsd: 0.5, failFast: false });
const spent: number = budgeted.stats.costUsd + budgeted.stats.costUnknown + budgeted.stats.budgetExceeded;
const itemCost: number | null | undefined = budgeted[0].costUsd ?? budgeted.outcomes[0].costUsd;
for await (const o of v.asCompleted(['a'], { maxCostUsd: 0 })) { const c: number | null | undefined = o.costUsd; console.log(c); }
console.log(spent, itemCost);
const priced = new Volley({ providers: { gw: { kind: 'openai', models: { 'my-model': { price: { input: 0.15, output: 0.6, cachedInput: 0.075 }, limits: { rpm: 10 } } } } } });
const callCost: number | null | undefined = (await priced.call('x')).costUsd;
const streamCost: number | null | undefined = (await priced.stream('x').result).costUsd;
const embedCost: number | null | undefined = (await priced.call(embed('x'))).costUsd;
console.log(callCost, streamCost, embedCost);
// Provider budgets, cached input tokens, asCompleted's stats.
const capped = new Volley({ providers: { gw: { budget: { maxCostUsd: 25, per: 'day' } }, other: { budget: { max_cost_usd: 1 } } } });
await capped.configure({ providers: { gw: { budget: { maxCostUsd: 5 } } } });
const shown: ProviderBudgetStats | undefined = (await capped.stats()).providers.gw.budget;
const left: number | undefined = shown && shown.maxCostUsd - shown.spentUsd - shown.reservedUsd;
const cachedTokens: number = (await capped.call('x')).usage?.cachedInputTokens ?? 0;
const run: AsCompleted<Outcome> = capped.asCompleted(['a', 'b'], { maxCostUsd: 1 });
for await (const o of run) console.log(o.index);
const runStats: BatchStats | undefined = run.stats;
const refusedCount: number = (run.stats?.budgetExceeded ?? 0) + (run.stats?.costUsd ?? 0);
const eventsRun = capped.asCompleted(['a'], { deltas: true });
for await (const e of eventsRun) console.log(e.type);
const eventStats: BatchStats | undefined = eventsRun.stats;
const asGenerator: AsyncGenerator<Outcome, void, undefined> = capped.asCompleted(['a']);
console.log(left, cachedTokens, runStats, refusedCount, eventStats, asGenerator);
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
// Endpoints: each item's value type follows its builder.
const embedded: GatherResults<EmbeddingsValue> = await v.gather([embed(['a', 'b'], { model: 'text-embedding-3-small', dimensions: 8, encodingFormat: 'float', mock: { latencyMs: 0 } })]);
const vector: Float32Array = embedded[0].embeddings[0];
const encoding: 'base64' | 'float' = embedded.outcomes[0].value!.encoding;
const dims: number = embedded[0].dimensions;
const answer: ResponsesValue = await v.call(respond('hi', { instructions: 'Be brief.', maxOutputTokens: 64, raw: true }));
const calls: ToolCall[] | undefined = answer.toolCalls;
const next = respond([{ role: 'user', content: 'and?' }], { previousResponseId: answer.id });
const completion: CompletionValue = await v.call(complete('Once', { maxTokens: 5, stop: ['\\n'] }));
const raw: PostValue = await v.call(post('/v1/moderations', { input: 'x' }, { provider: 'openai', timeout: 5 }));
const status: number = raw.status;
const embedItem: EmbeddingsItem = embed('x');
const rawItem: PostItem = post('/x');
const byLiteral: Float32Array[] = (await v.call({ endpoint: 'embeddings', request: { input: 'x' } })).embeddings;
for (const value of await v.gather([embed('a'), post('/x'), 'hi'], { returnExceptions: true })) {
  if (value instanceof VolleyError) console.log(value.index);
  else if ('embeddings' in value) console.log(value.embeddings.length);
  else if ('status' in value) console.log(value.body);
  else console.log(value.text);
}
for await (const outcome of v.asCompleted([embed('a'), embed('b')])) { const e: EmbeddingsValue | undefined = outcome.value; console.log(e?.dimensions); }
const texts: Float32Array[] = await v.embed(['a', 'b'], { model: 'text-embedding-3-small', batchSize: 100, timeout: 30, concurrency: 4, dimensions: 256, onProgress: (p) => console.log(p.done), signal: new AbortController().signal });
const [oneText]: Float32Array[] = await v.embed('one text', { maxRetries: 1, encodingFormat: 'float' });
const decoded: Float32Array = decodeEmbedding('AACAPw==');
const messages = chat('hi', { endpoint: 'messages', system: 'x', maxTokens: 5 });
try { await v.gather([embed('a')]); } catch (e) { if (e instanceof VolleyError) { const all: Value | VolleyError | undefined = e.results?.[0]; console.log(all); } }
console.log(vector, encoding, dims, calls, next, completion.text, status, embedItem, rawItem, byLiteral, texts, oneText, decoded, messages);
`,
    );
    writeFileSync(join(dir, 'typo.mts'), `import { chat } from ${JSON.stringify(entry)};\nchat('x', { timout: 1 });\n`);
    // Each a mistake the types catch: an option of another builder, a key on v.embed, a chat
    // field read on an embeddings value, a streamed responses item.
    const endpointTypos = [
      `embed('x', { dimension: 4 });`,
      `respond('x', { system: 'no' });`,
      `post('/x', {}, { raw: true });`,
      `await new Volley().embed(['a'], { key: 'k' });`,
      `const t: string = (await new Volley().call(embed('x'))).text;`,
      `new Volley().stream(respond('x'));`,
      `chat('x', { endpoint: 'embeddings' });`,
      `await new Volley().gather(['a'], { max_cost_usd: 1 });`,
      `new Volley({ providers: { gw: { models: { m: { price: { inptu: 1, output: 2 } } } } } });`,
      `new Volley({ providers: { gw: { budget: { maxCost: 1 } } } });`,
      `new Volley({ providers: { gw: { budget: { maxCostUsd: 1, per: 'week' } } } });`,
      `new Volley().asCompleted(['a']).stats = undefined;`,
    ];
    endpointTypos.forEach((line, i) =>
      writeFileSync(join(dir, `typo-${i}.mts`), `import { Volley, chat, embed, respond, post } from ${JSON.stringify(entry)};\n${line}\n`),
    );
    const flags = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext'];
    try {
      execFileSync('tsc', [...flags, join(dir, 'use.mts')], { encoding: 'utf8' });
    } catch (error) {
      assert.fail(`the fixture does not compile:\n${error.stdout}${error.stderr}`);
    }
    // One compiler run for every mistake (each run costs seconds): each file must have an error
    // on its line 2, the mistake's.
    const typoFiles = ['typo.mts', ...endpointTypos.map((_, i) => `typo-${i}.mts`)];
    const typo = spawnSync('tsc', [...flags, ...typoFiles.map((name) => join(dir, name))], { encoding: 'utf8' });
    assert.notEqual(typo.status, 0);
    assert.match(typo.stdout, /'timout' does not exist in type 'ChatOptions'/);
    endpointTypos.forEach((line, i) => {
      assert.ok(typo.stdout.includes(`typo-${i}.mts(2,`), `compiles, but should not: ${line}\n${typo.stdout}`);
    });
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
