// asCompleted: every item exactly once, in completion order; leaving the loop cancels.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { HTTPError } from '../src/index.js';
import { mockItem, mockVolley } from './helpers.mjs';

const v = mockVolley();
after(() => v.close());

test('yields every item once, as each finishes', async () => {
  const latencies = [400, 10, 250, 100, 1, 175];
  const items = latencies.map((ms, i) => mockItem(`p${i}`, { latency_ms: ms }, { key: `k${i}` }));
  items.push(mockItem('bad', { latency_ms: 50, fail: 'http', status: 400 }, { key: 'bad' }));
  const seen = [];
  for await (const outcome of v.asCompleted(items)) seen.push(outcome);

  assert.deepEqual(
    seen.map((o) => o.index).sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6],
    'each index exactly once',
  );
  const okOrder = seen.filter((o) => o.ok).map((o) => o.index);
  assert.deepEqual(okOrder, [4, 1, 3, 5, 2, 0], 'completion order');
  for (const o of seen) {
    assert.equal(o.key, o.index === 6 ? 'bad' : `k${o.index}`);
    assert.equal(o.attempts, 1);
    assert.equal(typeof o.latencyMs, 'number');
    assert.equal(typeof o.queuedMs, 'number');
    assert.equal(o.provider, 'mock', 'every outcome names the provider that ran it');
  }
  const bad = seen.find((o) => o.index === 6);
  assert.equal(bad.ok, false);
  assert.equal(bad.value, undefined);
  assert.ok(bad.error instanceof HTTPError);
  assert.equal(bad.error.index, 6);
  const good = seen.find((o) => o.index === 4);
  assert.equal(good.value.text, 'Mock reply to: p4');
  assert.equal(good.error, undefined);
});

test('break cancels the rest of the batch in the sidecar', async () => {
  const before = await v.stats();
  const items = [mockItem('fast', { latency_ms: 5 }), ...Array.from({ length: 4 }, (_, i) => mockItem(`slow ${i}`, { latency_ms: 10_000 }))];
  const started = Date.now();
  let count = 0;
  for await (const outcome of v.asCompleted(items)) {
    assert.equal(outcome.index, 0);
    count += 1;
    break;
  }
  assert.equal(count, 1);
  assert.ok(Date.now() - started < 5000, 'did not wait for the slow items');
  const stats = await v.stats();
  assert.equal(stats.cancelled - before.cancelled, 4, 'the four slow items were cancelled');
  assert.equal(stats.batchesActive, 0);
  assert.equal(stats.inFlight, 0);
});

test('a throw inside the loop cancels too, and the error propagates', async () => {
  const items = [mockItem('fast', { latency_ms: 1 }), mockItem('slow', { latency_ms: 10_000 })];
  const started = Date.now();
  await assert.rejects(async () => {
    for await (const _ of v.asCompleted(items)) throw new Error('boom');
  }, /boom/);
  assert.ok(Date.now() - started < 5000);
  assert.equal((await v.stats()).batchesActive, 0);
});

test('progress notifications reach onProgress', async () => {
  const seen = [];
  for await (const _ of v.asCompleted([mockItem('a'), mockItem('b')], { onProgress: (p) => seen.push(p) })) {
    // drain
  }
  assert.deepEqual(seen.at(-1), { done: 2, failed: 0, total: 2 });
});

test('failFast: the failure and the cancelled items are outcomes; the loop ends normally', async () => {
  const items = [
    mockItem('fails', { latency_ms: 20, fail: 'http', status: 400 }),
    mockItem('slow', { latency_ms: 10_000 }),
    mockItem('fast', { latency_ms: 1 }),
  ];
  const seen = [];
  const started = Date.now();
  for await (const outcome of v.asCompleted(items, { failFast: true })) seen.push(outcome);
  assert.ok(Date.now() - started < 5000);
  assert.deepEqual(seen.map((o) => o.index).sort(), [0, 1, 2]);
  const byIndex = Object.fromEntries(seen.map((o) => [o.index, o]));
  assert.ok(byIndex[0].error instanceof HTTPError);
  assert.equal(byIndex[1].error.kind, 'cancelled');
  assert.equal(byIndex[2].ok, true);
});

test("the generator's stats: undefined while the batch runs, the batch's once it ends", async () => {
  const run = v.asCompleted([mockItem('a'), mockItem('b', { latency_ms: 300 }), mockItem('bad', { fail: 'http', status: 400 })]);
  assert.equal(run.stats, undefined);
  assert.equal(typeof run.next, 'function', 'still an async generator');
  assert.equal(run[Symbol.asyncIterator](), run);
  let seen = 0;
  for await (const outcome of run) {
    seen += 1;
    // Set when the sidecar answers, after the last outcome: b still runs at the first.
    if (seen === 1) assert.equal(run.stats, undefined, `not before the sidecar answered (outcome ${outcome.index})`);
  }
  assert.equal(seen, 3);
  const { stats } = run;
  assert.deepEqual(
    [stats.succeeded, stats.failed, stats.cancelled, stats.costUsd, stats.costUnknown, stats.budgetExceeded],
    [2, 1, 0, 0, 0, 0],
  );
  assert.ok(stats.usage.inputTokens > 0 && stats.usage.outputTokens > 0);
  assert.ok(stats.elapsedMs > 0);
  assert.throws(() => {
    'use strict';
    run.stats = undefined;
  }, TypeError, 'read-only');
});

test('stats after failFast, after break (the cancelled items counted), and of an empty batch', async () => {
  const failing = v.asCompleted([mockItem('fails', { latency_ms: 20, fail: 'http', status: 400 }), mockItem('slow', { latency_ms: 10_000 })], {
    failFast: true,
  });
  for await (const _ of failing) {
    // drain
  }
  assert.equal(failing.stats.failed, 1);
  assert.equal(failing.stats.cancelled, 1);

  const left = v.asCompleted([mockItem('fast', { latency_ms: 1 }), mockItem('slow 1', { latency_ms: 10_000 }), mockItem('slow 2', { latency_ms: 10_000 })]);
  for await (const _ of left) break;
  assert.equal(left.stats.succeeded, 1);
  assert.equal(left.stats.cancelled, 2);

  const empty = v.asCompleted([]);
  for await (const _ of empty) assert.fail('nothing to yield');
  assert.deepEqual(empty.stats, { succeeded: 0, failed: 0, cancelled: 0, elapsedMs: 0, usage: { inputTokens: 0, outputTokens: 0 }, costUsd: 0, costUnknown: 0, budgetExceeded: 0 });
});

test('stats with deltas: true, and after an abort', async () => {
  const streamed = v.asCompleted([mockItem('streamed', { chunk_delay_ms: 1 }, { stream: true })], { deltas: true });
  const types = [];
  for await (const event of streamed) types.push(event.type);
  assert.equal(types.at(-1), 'outcome');
  assert.ok(types.includes('delta'));
  assert.equal(streamed.stats.succeeded, 1);

  const controller = new AbortController();
  const aborted = v.asCompleted([mockItem('fast', { latency_ms: 1 }), mockItem('slow', { latency_ms: 10_000 })], { signal: controller.signal });
  await assert.rejects(async () => {
    for await (const _ of aborted) controller.abort();
  }, { name: 'AbortError' });
  assert.equal(aborted.stats.succeeded, 1);
  assert.equal(aborted.stats.cancelled, 1);
});
