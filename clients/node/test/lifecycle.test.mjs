// Starting, configuring, closing, and not keeping Node alive.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Cancelled, findBinary, ProtocolError, VolleyError } from '../src/index.js';
import { binary, clientDir, isRunning, mockItem, mockVolley } from './helpers.mjs';

const run = promisify(execFile);


test('the sidecar starts lazily; start() reports what initialize answered', async () => {
  const v = mockVolley();
  assert.equal(v.pid, undefined);
  assert.equal(v.info, undefined);
  const info = await v.start();
  assert.equal(typeof v.pid, 'number');
  assert.equal(info.protocolVersion, 1);
  assert.equal(info.server.name, 'volley');
  assert.ok(info.capabilities.methods.includes('as_completed'));
  assert.ok(info.capabilities.providers.includes('mock'));
  assert.ok('defaultProvider' in info.capabilities, 'camelCase, null when there is none');
  assert.equal(info.limits.maxLineBytes, 16 * 1024 * 1024);
  await v.ping();
  await v.close();
  assert.equal(v.pid, undefined);
});

test('providers and defaultProvider are sent in initialize; configure adds more', async () => {
  const v = mockVolley({
    providers: { fake: { kind: 'mock', latencyMs: 1, limits: { concurrency: 3 } } },
    defaultProvider: 'fake',
  });
  try {
    const info = await v.start();
    assert.deepEqual(info.capabilities.providers.sort(), ['fake', 'mock']);
    assert.equal(info.capabilities.defaultProvider, 'fake');
    const configured = await v.configure({ providers: { second: { kind: 'mock' } }, defaultProvider: 'second' });
    assert.deepEqual(configured.providers.sort(), ['fake', 'mock', 'second']);
    assert.equal(configured.defaultProvider, 'second');
    const stats = await v.stats();
    assert.deepEqual(stats.providers.fake, { kind: 'mock', limits: { concurrency: 3 } });
    await assert.rejects(v.configure({ providers: { bad: { kind: 'mock', concurency: 1 } } }), (error) => {
      assert.ok(error instanceof ProtocolError);
      assert.equal(error.code, -32602);
      assert.match(error.message, /concurency/);
      return true;
    });
  } finally {
    await v.close();
  }
});

test('an invalid initial configuration rejects the first call', async () => {
  const v = mockVolley({ providers: { bad: { kind: 'nope' } } });
  await assert.rejects(v.ping(), ProtocolError);
  await v.close();
});

test('stats are camelCase with model and limiter names kept', async () => {
  const v = mockVolley();
  try {
    await v.gather([mockItem('a'), mockItem('b', { fail: 'http', status: 400 })], { returnExceptions: true });
    const stats = await v.stats();
    assert.equal(stats.completed, 1);
    assert.equal(stats.failed, 1);
    assert.equal(typeof stats.uptimeMs, 'number');
    assert.equal(typeof stats.latencyMs.p50, 'number');
    assert.deepEqual(Object.keys(stats.usage), ['m']);
    assert.ok('mock/m' in stats.limiters);
    assert.equal(typeof stats.limiters['mock/m'].inFlight, 'number');
  } finally {
    await v.close();
  }
});

test('close drains running work by default; later calls reject', async () => {
  const v = mockVolley();
  const running = v.gather([mockItem('a', { latency_ms: 300 })]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  await v.close();
  const [value] = await running;
  assert.equal(value.text, 'Mock reply to: a');
  await assert.rejects(v.ping(), (error) => error instanceof VolleyError && error.kind === 'closed');
  await v.close(); // twice is fine
});

test('close({mode: "cancel"}) cancels running work', async () => {
  const v = mockVolley();
  const running = assert.rejects(v.gather([mockItem('slow', { latency_ms: 10_000 })]), (error) => {
    assert.ok(error instanceof Cancelled);
    assert.ok(error.results[0] instanceof Cancelled);
    return true;
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const started = Date.now();
  await v.close({ mode: 'cancel' });
  await running;
  assert.ok(Date.now() - started < 3000);
});

test('Symbol.asyncDispose closes', async () => {
  const v = mockVolley();
  await v.start();
  await v[Symbol.asyncDispose]();
  await assert.rejects(v.ping(), /closed/);
});

test('onStderr receives the sidecar log lines', async () => {
  const lines = [];
  const v = mockVolley({ logLevel: 'info', onStderr: (line) => lines.push(line) });
  await v.ping();
  await v.close();
  assert.ok(lines.some((line) => line.includes('volley serving')), lines.join('\n'));
});

test('a script that never calls close() still exits, and so does the sidecar', async () => {
  const script = `
    import { Volley } from ${JSON.stringify(join(clientDir, 'src', 'index.js'))};
    const v = new Volley({ binary: ${JSON.stringify(binary)} });
    const [r] = await v.gather([{ provider: 'mock', request: { messages: [{ role: 'user', content: 'x' }], mock: { latency_ms: 100 } } }]);
    console.log(r.text, v.pid);
  `;
  const started = Date.now();
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 });
  assert.ok(Date.now() - started < 5000, 'node exited on its own');
  const [text, pid] = stdout.trim().split(/ (?=\d+$)/);
  assert.equal(text, 'Mock reply to: x');
  // The sidecar saw EOF on stdin and exited too.
  const deadline = Date.now() + 3000;
  while (isRunning(Number(pid)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(isRunning(Number(pid)), false, `sidecar ${pid} still running`);
});

test('findBinary: option, then VOLLEY_BIN, then PATH, then the checkout build (no bundled binary in a checkout)', () => {
  assert.equal(findBinary('/x/volley', { VOLLEY_BIN: '/y/volley' }), '/x/volley');
  assert.equal(findBinary(undefined, { VOLLEY_BIN: '/y/volley', PATH: '' }), '/y/volley');
  const dir = mkdtempSync(join(tmpdir(), 'volley-path-'));
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'volley'), '#!/bin/sh\n');
  chmodSync(join(dir, 'bin', 'volley'), 0o755);
  assert.equal(findBinary(undefined, { PATH: `/nonexistent:${join(dir, 'bin')}` }), join(dir, 'bin', 'volley'));
  // Nothing on PATH: the checkout's .build (this test runs inside the checkout).
  const found = findBinary(undefined, { PATH: '/nonexistent' });
  assert.match(found, /\/\.build\/(release|debug)\/volley$/);
});
