// gather and call against the real sidecar on the mock provider.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { chat, HTTPError, RateLimited, Timeout, DeadlineExceeded, Cancelled, ProtocolError, VolleyError, InvalidRequest } from '../src/index.js';
import { mockItem, mockVolley } from './helpers.mjs';

const v = mockVolley();
after(() => v.close());

test('results come back in input order, whatever order items finish in', async () => {
  const latencies = [300, 10, 200, 50, 120, 1, 80];
  const items = latencies.map((ms, i) => mockItem(`prompt ${i}`, { latency_ms: ms, reply: `reply ${i}` }, { key: `k${i}` }));
  const results = await v.gather(items);
  assert.deepEqual(
    results.map((r) => r.text),
    latencies.map((_, i) => `reply ${i}`),
  );
  assert.equal(results[0].finishReason, 'stop');
  assert.equal(typeof results[0].usage.inputTokens, 'number');
});

test('strings are prompts for the default provider; defaultModel fills the model', async () => {
  const w = mockVolley({ defaultModel: 'my-model', defaultProvider: 'mock' });
  try {
    const [a, b] = await w.gather(['first', 'second']);
    assert.equal(a.text, 'Mock reply to: first');
    assert.equal(b.text, 'Mock reply to: second');
    assert.equal(a.model, 'my-model');
  } finally {
    await w.close();
  }
});

const mixed = () => [
  mockItem('ok 0', { latency_ms: 50 }),
  mockItem('bad 1', { fail: 'http', status: 404 }, { key: 'not-found' }),
  mockItem('ok 2', { latency_ms: 5 }),
  mockItem('limited 3', { fail: 'rate_limited', retry_after: 0.01 }, { maxRetries: 1, key: 'limited' }),
  mockItem('ok 4'),
];

test('returnExceptions: true puts typed errors in the failed slots', async () => {
  const results = await v.gather(mixed(), { returnExceptions: true });
  assert.equal(results.length, 5);
  assert.equal(results[0].text, 'Mock reply to: ok 0');
  assert.equal(results[2].text, 'Mock reply to: ok 2');
  assert.equal(results[4].text, 'Mock reply to: ok 4');

  assert.ok(results[1] instanceof HTTPError);
  assert.ok(results[1] instanceof VolleyError);
  assert.ok(results[1] instanceof Error);
  assert.equal(results[1].name, 'HTTPError');
  assert.equal(results[1].kind, 'http');
  assert.equal(results[1].status, 404);
  assert.equal(results[1].retryable, false);
  assert.equal(results[1].attempts, 1);
  assert.equal(results[1].index, 1);
  assert.equal(results[1].key, 'not-found');

  assert.ok(results[3] instanceof RateLimited);
  assert.equal(results[3].status, 429);
  assert.equal(results[3].retryable, true);
  assert.equal(results[3].attempts, 2, 'one try plus maxRetries: 1');
  assert.equal(results[3].key, 'limited');
});

test('returnExceptions: false with failFast: false rejects with the lowest-index failure, after the whole batch', async () => {
  const started = Date.now();
  await assert.rejects(v.gather(mixed(), { failFast: false }), (error) => {
    assert.ok(error instanceof HTTPError);
    assert.equal(error.index, 1);
    assert.equal(error.results.length, 5, 'every slot is on the error');
    assert.equal(error.results[0].text, 'Mock reply to: ok 0');
    assert.ok(error.results[3] instanceof RateLimited);
    assert.equal(error.results[1], error, 'the error is its own slot');
    assert.doesNotThrow(() => JSON.stringify(error), 'results are not enumerable, so no cycle');
    return true;
  });
  assert.ok(Date.now() - started >= 45, 'waited for the 50 ms item');
});

test('returnExceptions: false fails fast by default, like Python: the first failure in time rejects at once and the rest is cancelled', async () => {
  const items = [
    mockItem('slow', { latency_ms: 5000 }, { key: 'slow' }),
    mockItem('fails later', { latency_ms: 300, fail: 'http', status: 500 }, { maxRetries: 0 }),
    mockItem('fails first', { latency_ms: 20, fail: 'http', status: 400 }),
  ];
  const started = Date.now();
  await assert.rejects(v.gather(items), (error) => {
    assert.ok(error instanceof HTTPError);
    assert.equal(error.index, 2, 'the first to fail in time, not the lowest index');
    assert.ok(error.results[0] instanceof Cancelled, 'the slow item was cancelled in the sidecar');
    assert.ok(error.results[1] instanceof Cancelled);
    assert.equal(error.results.stats.cancelled, 2);
    assert.equal(error.results.stats.failed, 1);
    assert.equal(error.results.outcomes[0].key, 'slow');
    return true;
  });
  assert.ok(Date.now() - started < 2000, `did not wait for the slow item: ${Date.now() - started} ms`);
});

test('the result has outcomes and stats, as in the Python client', async () => {
  const results = await v.gather(mixed(), { returnExceptions: true });
  assert.equal(results.outcomes.length, 5);
  assert.deepEqual(Object.keys(results), ['0', '1', '2', '3', '4'], 'outcomes and stats are not enumerable');
  const [first, failed, , limited] = results.outcomes;
  assert.equal(first.index, 0);
  assert.equal(first.ok, true);
  assert.equal(first.value, results[0]);
  assert.equal(first.attempts, 1);
  assert.equal(typeof first.latencyMs, 'number');
  assert.equal(typeof first.queuedMs, 'number');
  assert.equal(failed.ok, false);
  assert.equal(failed.key, 'not-found');
  assert.equal(failed.error, results[1], 'the slot and the outcome hold the same error');
  assert.equal(limited.attempts, 2);
  assert.equal(results.stats.succeeded, 3);
  assert.equal(results.stats.failed, 2);
  assert.equal(results.stats.cancelled, 0);
  assert.equal(typeof results.stats.elapsedMs, 'number');
  assert.ok(results.stats.usage.inputTokens > 0);
  assert.ok(results.stats.usage.outputTokens > 0);

  const empty = await v.gather([]);
  assert.deepEqual(empty.outcomes, []);
  assert.deepEqual(empty.stats, { succeeded: 0, failed: 0, cancelled: 0, elapsedMs: 0, usage: { inputTokens: 0, outputTokens: 0 }, costUsd: 0, costUnknown: 0, budgetExceeded: 0 });
});

test('failFast rejects with the first failure in time and cancels the rest', async () => {
  const items = [
    mockItem('slow', { latency_ms: 5000 }),
    mockItem('fails later', { latency_ms: 100, fail: 'http', status: 500 }, { maxRetries: 0 }),
    mockItem('fails first', { latency_ms: 20, fail: 'http', status: 400 }),
    mockItem('fast', { latency_ms: 1 }),
  ];
  const started = Date.now();
  await assert.rejects(v.gather(items, { failFast: true }), (error) => {
    assert.ok(error instanceof HTTPError);
    assert.equal(error.index, 2);
    assert.equal(error.status, 400);
    assert.ok(error.results[0] instanceof Cancelled, 'the slow item was cancelled');
    assert.equal(error.results[3].text, 'Mock reply to: fast');
    return true;
  });
  assert.ok(Date.now() - started < 3000, 'did not wait for the slow item');

  const slots = await v.gather(items, { failFast: true, returnExceptions: true });
  assert.ok(slots[2] instanceof HTTPError);
  assert.ok(slots[0] instanceof Cancelled);
});

test('per-item timeout and batch timeout', async () => {
  const results = await v.gather(
    [mockItem('slow', { latency_ms: 2000 }, { timeout: 0.1 }), mockItem('quick', { latency_ms: 5 }, { timeout: 1 })],
    { returnExceptions: true },
  );
  assert.ok(results[0] instanceof Timeout);
  assert.equal(results[1].text, 'Mock reply to: quick');

  const batch = await v.gather([mockItem('slow', { latency_ms: 2000 }), mockItem('quick', { latency_ms: 5 })], {
    timeout: 0.2,
    returnExceptions: true,
  });
  assert.ok(batch[0] instanceof DeadlineExceeded);
  assert.equal(batch[1].text, 'Mock reply to: quick');
});

test('concurrency bounds the batch', async () => {
  const items = Array.from({ length: 6 }, (_, i) => mockItem(`p${i}`, { latency_ms: 100 }));
  const started = Date.now();
  await v.gather(items, { concurrency: 2 });
  assert.ok(Date.now() - started >= 290, `6 items, 2 at a time, 100 ms each: ${Date.now() - started} ms`);
});

test('onProgress reports the batch', async () => {
  const seen = [];
  await v.gather(
    Array.from({ length: 5 }, (_, i) => mockItem(`p${i}`, { latency_ms: 20 * i })),
    { onProgress: (p) => seen.push(p) },
  );
  assert.ok(seen.length >= 1);
  assert.deepEqual(seen.at(-1), { done: 5, failed: 0, total: 5 });
});

test('a malformed item is an InvalidRequest in its slot; a bad batch option is a TypeError', async () => {
  const results = await v.gather([{ request: 'not an object' }, mockItem('fine')], { returnExceptions: true });
  assert.ok(results[0] instanceof InvalidRequest);
  assert.equal(results[1].text, 'Mock reply to: fine');
  await assert.rejects(v.gather([mockItem('x')], { concurency: 2 }), TypeError);
});

test('an unknown provider rejects the whole request with a ProtocolError', async () => {
  await assert.rejects(v.gather([chat('x', { provider: 'nope' })]), (error) => {
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.code, -32602);
    assert.deepEqual(error.data, { index: 0 });
    return true;
  });
});

test('call returns the value, or throws the typed error', async () => {
  const value = await v.call(mockItem('hello', { reply: 'hi there' }));
  assert.equal(value.text, 'hi there');
  assert.equal((await v.call(chat('plain string', { provider: 'mock' }))).text, 'Mock reply to: plain string');
  await assert.rejects(v.call(mockItem('x', { fail: 'http', status: 418 }, { key: 'teapot' })), (error) => {
    assert.ok(error instanceof HTTPError);
    assert.equal(error.status, 418);
    assert.equal(error.key, 'teapot');
    assert.equal(error.attempts, 1);
    return true;
  });
});

test('a call() failure keeps the attempts the sidecar reports', async () => {
  const item = mockItem('x', { fail: 'rate_limited', retry_after: 0.01 }, { maxRetries: 2 });
  await assert.rejects(v.call(item), (error) => {
    assert.ok(error instanceof RateLimited);
    assert.equal(error.attempts, 3, 'one try plus maxRetries: 2');
    return true;
  });
});

test('an empty batch is an empty result, with no round trip', async () => {
  assert.deepEqual(await v.gather([]), []);
  const seen = [];
  for await (const outcome of v.asCompleted([])) seen.push(outcome);
  assert.deepEqual(seen, []);
});
