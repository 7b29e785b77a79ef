// Token streaming against the real sidecar on the mock provider: stream(), asCompleted's
// deltas, onDelta, resets after a stream cut mid-answer, cancellation by break and by signal.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { HTTPError, StreamAssembler, chat } from '../src/index.js';
import { binary, mockItem, mockVolley, repoRoot } from './helpers.mjs';

/** Whether this volley streams: a streamed mock call answers with `delta` notifications first. */
const streams = (() => {
  const probe = { jsonrpc: '2.0', id: 1, method: 'call', params: { provider: 'mock', stream: true, request: { messages: [{ role: 'user', content: 'hi' }], mock: { latency_ms: 1 } } } };
  const run = spawnSync(binary, [], { input: JSON.stringify(probe) + '\n', encoding: 'utf8', timeout: 10_000 });
  return /"method":"delta"/.test(run.stdout ?? '');
})();
/** Skipped, saying why, with a volley built before token streaming. */
const needsStreaming = streams ? {} : { skip: `${binary} does not stream (no delta notifications): rebuild it` };

const v = mockVolley();
after(() => v.close());

/** A streamed mock item. */
const streamed = (prompt, mock = {}, options = {}) => mockItem(prompt, mock, { stream: true, ...options });

/** A reply cut by a connection error after 2 deltas, then answered whole by the retry. */
const cutOnce = { reply: 'abcdefghijkl', fail: 'connection', fail_attempts: 1, fail_after_chunks: 2 };

test('stream(): the chunks concatenate to the result text; result has ttftMs', needsStreaming, async () => {
  const reply = 'The quick brown fox jumps over the lazy dog';
  const s = v.stream(mockItem('hi', { reply, chunk_delay_ms: 5 }));
  const chunks = [];
  let text = '';
  for await (const chunk of s) {
    chunks.push(chunk);
    text += chunk.text;
  }
  const result = await s.result;
  assert.equal(text, reply);
  assert.equal(result.text, reply);
  assert.equal(s.text, reply);
  assert.ok(chunks.length > 1, `streamed in pieces (${chunks.length})`);
  for (const chunk of chunks) {
    assert.equal(chunk.type, 'delta');
    assert.equal(chunk.index, 0);
    assert.equal(chunk.attempt, 1);
    assert.ok(chunk.text.length > 0 && chunk.text.length <= 4, 'the mock writes pieces of up to 4 characters');
  }
  assert.equal(result.finishReason, 'stop');
  assert.equal(typeof result.usage.outputTokens, 'number');
  assert.equal(typeof result.ttftMs, 'number');
  assert.ok(result.ttftMs >= 0);
});

test('stream() of a prompt takes chat() options; ttftMs counts the wait for the first delta', needsStreaming, async () => {
  const s = v.stream('hello', { provider: 'mock', model: 'm', key: 'greeting', mock: { latencyMs: 200, chunkDelayMs: 1 } });
  let text = '';
  for await (const chunk of s) {
    assert.equal(chunk.key, 'greeting');
    text += chunk.text;
  }
  const result = await s.result;
  assert.equal(text, 'Mock reply to: hello');
  assert.equal(result.text, text);
  assert.ok(result.ttftMs >= 150, `ttftMs ${result.ttftMs} includes the 200 ms before the first delta`);
});

test('stream(): a reset mid-stream discards the cut attempt, so the text is not doubled', needsStreaming, async () => {
  const s = v.stream(mockItem('x', { ...cutOnce, chunk_delay_ms: 2 }));
  const chunks = [];
  for await (const chunk of s) chunks.push(chunk);
  const result = await s.result;
  assert.deepEqual(
    chunks.map((c) => `${c.type}@${c.attempt}`),
    ['delta@1', 'delta@1', 'reset@1', 'delta@2', 'delta@2', 'delta@2'],
  );
  assert.equal(chunks.map((c) => c.text).join(''), 'abcdefghabcdefghijkl', 'ignoring the reset would double the text');
  assert.equal(s.text, 'abcdefghijkl');
  assert.equal(s.resets, 1);
  assert.equal(result.text, 'abcdefghijkl');
  assert.equal(typeof result.ttftMs, 'number');
});

test('stream(): a failure is thrown by the loop, as call() throws it, and rejects result', needsStreaming, async () => {
  const item = mockItem('x', { reply: 'abcdefghijkl', fail: 'http', status: 400, fail_after_chunks: 2 });
  const s = v.stream(item);
  const texts = [];
  let thrown;
  try {
    for await (const chunk of s) texts.push(chunk.text);
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof HTTPError, String(thrown));
  assert.equal(thrown.status, 400);
  assert.equal(thrown.attempts, 1);
  assert.deepEqual(texts, ['abcd', 'efgh'], 'what was streamed before the final failure');
  await assert.rejects(s.result, (error) => error === thrown);
  await assert.rejects(v.call(item), (error) => error instanceof HTTPError && error.status === 400 && error.attempts === 1);
});

test('stream(): breaking out of the loop cancels the item in the sidecar', needsStreaming, async () => {
  const before = await v.stats();
  const s = v.stream(mockItem('x', { reply: 'y'.repeat(400), chunk_delay_ms: 50 }));
  const started = Date.now();
  let count = 0;
  for await (const chunk of s) {
    assert.equal(chunk.type, 'delta');
    if (++count === 2) break;
  }
  assert.ok(Date.now() - started < 3000, 'did not wait for the 5 s answer');
  await assert.rejects(s.result, (error) => error.name === 'AbortError' && /exited early/.test(error.cause.message));
  const stats = await v.stats();
  assert.equal(stats.cancelled - before.cancelled, 1, 'the item was cancelled');
  assert.equal(stats.inFlight, 0);
});

test('stream(): aborting the signal cancels the item; the loop throws AbortError', needsStreaming, async () => {
  const before = await v.stats();
  const controller = new AbortController();
  const reason = new Error('user pressed stop');
  const s = v.stream(mockItem('x', { reply: 'y'.repeat(400), chunk_delay_ms: 50 }), { signal: controller.signal });
  const seen = [];
  const started = Date.now();
  await assert.rejects(async () => {
    for await (const chunk of s) {
      seen.push(chunk.text);
      if (seen.length === 2) controller.abort(reason);
    }
  }, (error) => error.name === 'AbortError' && error.cause === reason);
  assert.equal(seen.length, 2, 'no chunk is yielded after the abort');
  assert.ok(Date.now() - started < 3000);
  await assert.rejects(s.result, { name: 'AbortError' });
  const stats = await v.stats();
  assert.equal(stats.cancelled - before.cancelled, 1);
  assert.equal(stats.inFlight, 0);
});

test('asCompleted({deltas: true}): chunks of several streamed items, each before its outcome', needsStreaming, async () => {
  const items = [
    streamed('a', { reply: 'alpha alpha alpha', chunk_delay_ms: 10 }, { key: 'a' }),
    streamed('b', { reply: 'bravo', chunk_delay_ms: 3 }, { key: 'b' }),
    streamed('c', { ...cutOnce, chunk_delay_ms: 2 }, { key: 'c' }),
    mockItem('d', { reply: 'not streamed' }, { key: 'd' }),
  ];
  /** @type {Map<number, StreamAssembler>} */
  const answers = new Map();
  const outcomes = new Map();
  let chunkCount = 0;
  for await (const event of v.asCompleted(items, { deltas: true })) {
    if (event.type === 'outcome') {
      assert.ok(!outcomes.has(event.index), 'one outcome per item');
      outcomes.set(event.index, event);
      continue;
    }
    assert.ok(event.type === 'delta' || event.type === 'reset');
    assert.ok(!outcomes.has(event.index), 'no chunk after its item\'s outcome');
    assert.equal(event.key, items[event.index].key);
    chunkCount += 1;
    if (!answers.has(event.index)) answers.set(event.index, new StreamAssembler());
    answers.get(event.index).apply(event);
  }
  assert.deepEqual([...outcomes.keys()].sort(), [0, 1, 2, 3]);
  assert.deepEqual([...answers.keys()].sort(), [0, 1, 2], 'the unstreamed item sent no chunks');
  assert.equal(chunkCount, 5 + 2 + (2 + 1 + 3), 'pieces of up to 4 characters; the cut item: 2 deltas, a reset, 3 deltas');
  for (const index of [0, 1, 2]) {
    const outcome = outcomes.get(index);
    assert.equal(outcome.ok, true);
    assert.equal(answers.get(index).text, outcome.value.text, `item ${index}: the chunks since the last reset are the text`);
    assert.equal(typeof outcome.ttftMs, 'number');
  }
  assert.equal(answers.get(2).resets, 1);
  assert.equal(answers.get(2).text, 'abcdefghijkl');
  assert.equal(outcomes.get(2).attempts, 2);
  assert.equal(outcomes.get(3).value.text, 'not streamed');
  assert.equal(outcomes.get(3).ttftMs, undefined);
});

test('asCompleted without deltas is unchanged by streamed items (outcomes only, with ttftMs)', needsStreaming, async () => {
  const items = [streamed('a', { reply: 'one two three' }), mockItem('b', { reply: 'plain' })];
  const seen = [];
  for await (const outcome of v.asCompleted(items)) seen.push(outcome);
  assert.equal(seen.length, 2);
  for (const outcome of seen) {
    assert.equal('type' in outcome, false, 'outcomes are as before');
    assert.equal(outcome.ok, true);
  }
  const byIndex = Object.fromEntries(seen.map((o) => [o.index, o]));
  assert.equal(byIndex[0].value.text, 'one two three');
  assert.equal(typeof byIndex[0].ttftMs, 'number');
  assert.equal(byIndex[1].ttftMs, undefined);
});

test('onDelta: gather and asCompleted hand the chunks to a callback', needsStreaming, async () => {
  const items = [streamed('a', { reply: 'first answer' }), streamed('b', { ...cutOnce })];
  const gathered = new Map();
  const results = await v.gather(items, {
    onDelta: (chunk) => {
      if (!gathered.has(chunk.index)) gathered.set(chunk.index, new StreamAssembler());
      gathered.get(chunk.index).apply(chunk);
    },
  });
  assert.equal(gathered.get(0).text, results[0].text);
  assert.equal(gathered.get(1).text, 'abcdefghijkl');
  assert.equal(results[1].text, 'abcdefghijkl');
  assert.equal(typeof results.outcomes[0].ttftMs, 'number');

  const called = [];
  const yielded = [];
  for await (const outcome of v.asCompleted(items, { onDelta: (chunk) => called.push(chunk) })) yielded.push(outcome);
  assert.equal(yielded.length, 2, 'the loop yields outcomes only');
  assert.ok(called.some((c) => c.type === 'reset' && c.index === 1));
  const first = new StreamAssembler();
  for (const chunk of called.filter((c) => c.index === 0)) first.apply(chunk);
  assert.equal(first.text, 'first answer');
});

test('breaking out of asCompleted({deltas: true}) mid-stream cancels the batch', needsStreaming, async () => {
  const before = await v.stats();
  const items = [streamed('a', { reply: 'y'.repeat(400), chunk_delay_ms: 50 }), streamed('b', { reply: 'z'.repeat(400), chunk_delay_ms: 50 })];
  const started = Date.now();
  for await (const event of v.asCompleted(items, { deltas: true })) {
    assert.equal(event.type, 'delta');
    break;
  }
  assert.ok(Date.now() - started < 3000);
  const stats = await v.stats();
  assert.equal(stats.cancelled - before.cancelled, 2);
  assert.equal(stats.batchesActive, 0);
  assert.equal(stats.inFlight, 0);
});

test('a streamed item through call() (or request.stream) resolves with the whole value', needsStreaming, async () => {
  const value = await v.call(streamed('x', { reply: 'whole anyway' }));
  assert.equal(value.text, 'whole anyway');
  assert.equal(typeof value.ttftMs, 'number');
  const [viaRequest] = await v.gather([chat('x', { provider: 'mock', mock: { reply: 'also whole', latencyMs: 1 }, extraBody: { stream: true } })]);
  assert.equal(viaRequest.text, 'also whole');
});

const fakeLLM = [process.env.VOLLEY_FAKE_LLM, join(dirname(binary), 'volley-fake-llm'), join(repoRoot, '.build', 'debug', 'volley-fake-llm')].find(
  (path) => path && existsSync(path),
);

test('tool calls stream in pieces that assemble into the final toolCalls (openai provider, volley-fake-llm)', { skip: needsStreaming.skip ?? (!fakeLLM && 'no volley-fake-llm') }, async () => {
  const server = spawn(fakeLLM, ['--latency-ms', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: server.stdout }).once('line', resolve);
    server.once('exit', (code) => reject(new Error(`volley-fake-llm exited with ${code}`)));
  });
  const baseUrl = `${JSON.parse(line).base_url}/v1`;
  const w = mockVolley({ providers: { fake: { kind: 'openai', baseUrl, apiKey: 'sk-test' } } });
  try {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }];
    const s = w.stream('weather in Paris', { provider: 'fake', model: 'gpt-4o-mini', tools, extraBody: { fake: { tool_call: true } } });
    const pieces = [];
    for await (const chunk of s) {
      assert.equal(chunk.text, '');
      pieces.push(...(chunk.toolCalls ?? []));
    }
    const result = await s.result;
    assert.equal(result.finishReason, 'tool_calls');
    assert.ok(pieces.length >= 1);
    assert.equal(pieces[0].name, 'get_weather');
    assert.equal(typeof pieces[0].id, 'string');
    assert.deepEqual(s.toolCalls, result.toolCalls);
    assert.equal(typeof result.ttftMs, 'number');

    // Text, through the OpenAI SSE path: the deltas are the whole text.
    const t = w.stream('hello there', { provider: 'fake', model: 'gpt-4o-mini' });
    let text = '';
    for await (const chunk of t) text += chunk.text;
    assert.match(text, /^Echo: hello there/);
    assert.equal(text, (await t.result).text);
  } finally {
    await w.close();
    server.kill();
  }
});
