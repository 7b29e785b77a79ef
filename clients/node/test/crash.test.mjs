// A sidecar that dies: pending calls reject with SidecarCrashed, the next call restarts it.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SidecarCrashed, Volley } from '../src/index.js';
import { mockItem, mockVolley, sleep } from './helpers.mjs';

test('SIGKILL mid-batch rejects every pending call promptly; the next gather restarts it', async () => {
  const v = mockVolley();
  try {
    await v.start();
    const pid = v.pid;
    assert.equal(typeof pid, 'number');
    const slow = [mockItem('a', { latency_ms: 5000 }), mockItem('b', { latency_ms: 5000 })];
    const batch = v.gather(slow);
    const single = v.call(mockItem('c', { latency_ms: 5000 }));
    const stream = (async () => {
      for await (const _ of v.asCompleted(slow)) {
        // nothing arrives before the kill
      }
    })();
    await sleep(200);
    const killed = Date.now();
    process.kill(pid, 'SIGKILL');
    for (const pending of [batch, single, stream]) {
      await assert.rejects(pending, (error) => {
        assert.ok(error instanceof SidecarCrashed, `${error}`);
        assert.equal(error.signal, 'SIGKILL');
        assert.equal(error.exitCode, null);
        assert.match(error.message, /killed by SIGKILL/);
        return true;
      });
    }
    assert.ok(Date.now() - killed < 2000, `rejected ${Date.now() - killed} ms after the kill`);
    assert.equal(v.pid, undefined);

    const [value] = await v.gather([mockItem('after restart', { latency_ms: 5 })]);
    assert.equal(value.text, 'Mock reply to: after restart');
    assert.notEqual(v.pid, pid, 'a new process');
  } finally {
    await v.close();
  }
});

test('a restarted sidecar gets the providers again (initialize and configure)', async () => {
  const v = mockVolley({ providers: { slowmock: { kind: 'mock', latencyMs: 1 } } });
  try {
    await v.configure({ providers: { other: { kind: 'mock' } }, defaultProvider: 'other' });
    process.kill(v.pid, 'SIGKILL');
    await sleep(100);
    const info = await v.start();
    assert.deepEqual(info.capabilities.providers.sort(), ['mock', 'other', 'slowmock']);
    assert.equal(info.capabilities.defaultProvider, 'other');
  } finally {
    await v.close();
  }
});

/** A fake "sidecar" that writes to stderr and dies at once. */
function dyingBinary() {
  const dir = mkdtempSync(join(tmpdir(), 'volley-node-'));
  const path = join(dir, 'volley');
  writeFileSync(path, '#!/bin/sh\necho "fatal: something broke" >&2\nexit 3\n');
  chmodSync(path, 0o755);
  return path;
}

test('the exit code and last stderr lines are in the error; restarts are bounded', async () => {
  const stderr = [];
  const v = new Volley({ binary: dyingBinary(), maxRestarts: 2, onStderr: (line) => stderr.push(line) });
  for (let attempt = 0; attempt < 3; attempt++) {
    await assert.rejects(v.ping(), (error) => {
      assert.ok(error instanceof SidecarCrashed);
      assert.equal(error.exitCode, 3);
      assert.deepEqual(error.stderr, ['fatal: something broke']);
      assert.match(error.message, /exited with code 3[^]*fatal: something broke/);
      return true;
    });
  }
  await assert.rejects(v.ping(), /crashed 3 times in a row; not restarting/);
  assert.equal(stderr.length, 3, 'onStderr saw every line');
  await v.close();
});

test('a binary that does not exist is a SidecarCrashed naming it', async () => {
  const v = new Volley({ binary: '/nonexistent/volley' });
  await assert.rejects(v.ping(), (error) => {
    assert.ok(error instanceof SidecarCrashed);
    assert.match(error.message, /could not run \/nonexistent\/volley: spawn \/nonexistent\/volley ENOENT/);
    assert.equal(error.cause.code, 'ENOENT');
    return true;
  });
  await v.close();
});

test('SIGTERM to the sidecar: pending batches reject with Cancelled holding what finished', async () => {
  const v = mockVolley();
  try {
    await v.start();
    const pid = v.pid;
    const pending = assert.rejects(
      v.gather([mockItem('fast', { latency_ms: 1 }), mockItem('slow', { latency_ms: 10_000 })]),
      (error) => {
        assert.equal(error.name, 'Cancelled');
        assert.equal(error.results[0].text, 'Mock reply to: fast');
        assert.equal(error.results[1].name, 'Cancelled');
        return true;
      },
    );
    await sleep(200);
    process.kill(pid, 'SIGTERM');
    await pending;
    assert.equal((await v.call(mockItem('again'))).text, 'Mock reply to: again');
    assert.notEqual(v.pid, pid);
  } finally {
    await v.close();
  }
});
