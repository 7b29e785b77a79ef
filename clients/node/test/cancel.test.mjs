// AbortSignal: cancel reaches the sidecar, the promise rejects with an AbortError after its reply.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { AbortError, Cancelled } from '../src/index.js';
import { mockItem, mockVolley, sleep } from './helpers.mjs';

const v = mockVolley();
after(() => v.close());

test('aborting a running gather cancels its items in the sidecar', async () => {
  const controller = new AbortController();
  const items = [
    mockItem('fast', { latency_ms: 5, reply: 'done early' }),
    mockItem('slow 1', { latency_ms: 10_000 }),
    mockItem('slow 2', { latency_ms: 10_000 }),
  ];
  const before = await v.stats();
  const pending = v.gather(items, { signal: controller.signal });
  await sleep(300);
  const reason = new Error('user pressed stop');
  const aborted = Date.now();
  controller.abort(reason);
  await assert.rejects(pending, (error) => {
    assert.ok(error instanceof AbortError);
    assert.equal(error.name, 'AbortError');
    assert.equal(error.cause, reason);
    // What the sidecar reported in its -32800 reply:
    assert.equal(error.results.length, 3);
    assert.equal(error.results[0].text, 'done early');
    assert.ok(error.results[1] instanceof Cancelled);
    assert.ok(error.results[2] instanceof Cancelled);
    assert.equal(error.stats.cancelled, 2);
    assert.equal(error.stats.succeeded, 1);
    return true;
  });
  assert.ok(Date.now() - aborted < 2000, 'settled promptly');
  const stats = await v.stats();
  assert.equal(stats.cancelled - before.cancelled, 2);
  assert.equal(stats.batchesActive, 0);
});

test('a signal aborted before the call rejects at once, sending nothing', async () => {
  const controller = new AbortController();
  controller.abort();
  const before = await v.stats();
  await assert.rejects(v.gather([mockItem('x')], { signal: controller.signal }), { name: 'AbortError' });
  await assert.rejects(v.call(mockItem('x'), { signal: controller.signal }), { name: 'AbortError' });
  const stats = await v.stats();
  assert.equal(stats.completed, before.completed);
});

test('AbortSignal.timeout cancels a call', async () => {
  const started = Date.now();
  await assert.rejects(v.call(mockItem('slow', { latency_ms: 10_000 }), { signal: AbortSignal.timeout(200) }), (error) => {
    assert.equal(error.name, 'AbortError');
    assert.equal(error.cause.name, 'TimeoutError');
    return true;
  });
  assert.ok(Date.now() - started < 3000);
});

test('aborting asCompleted stops the loop with an AbortError', async () => {
  const controller = new AbortController();
  const seen = [];
  const items = [mockItem('fast', { latency_ms: 5 }), mockItem('slow', { latency_ms: 10_000 }), mockItem('slow', { latency_ms: 10_000 })];
  await assert.rejects(async () => {
    for await (const outcome of v.asCompleted(items, { signal: controller.signal })) {
      seen.push(outcome);
      controller.abort();
    }
  }, { name: 'AbortError' });
  assert.deepEqual(
    seen.map((o) => o.index),
    [0],
    'no cancelled outcomes are yielded after the abort',
  );
  assert.equal((await v.stats()).batchesActive, 0);
});

test('other calls on the same sidecar are unaffected by an abort', async () => {
  const controller = new AbortController();
  const doomed = v.gather([mockItem('slow', { latency_ms: 10_000 })], { signal: controller.signal });
  const fine = v.gather([mockItem('other', { latency_ms: 300 })]);
  await sleep(50);
  controller.abort();
  await assert.rejects(doomed, { name: 'AbortError' });
  const [value] = await fine;
  assert.equal(value.text, 'Mock reply to: other');
});
