// Shared mode: many hosts, one `volley serve --socket PATH` daemon.
//
// Every test uses a socket in a fresh temporary directory (never the user's default socket)
// and every daemon started here is killed at the end: by the pid `initialize` reported, and by
// a sweep of the processes serving one of this file's sockets (a daemon some host started and
// that no test saw). Waits are bounded and on events or states (a line from a host, `stats`
// showing the batch in flight), never on a sleep that hopes something happened meanwhile.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import {
  AbortError,
  Cancelled,
  HTTPError,
  ProtocolError,
  RateLimited,
  SidecarCrashed,
  Volley,
  VolleyError,
  defaultSocketPath,
} from '../src/index.js';
import { binary, clientDir, isRunning, mockItem, repoRoot } from './helpers.mjs';

const NO_KEYS = { OPENAI_API_KEY: undefined, ANTHROPIC_API_KEY: undefined, OPENAI_BASE_URL: undefined, ANTHROPIC_BASE_URL: undefined };
const daemonSupport = (() => {
  try {
    return /--socket/.test(execFileSync(binary, ['help', 'serve'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  } catch {
    return false;
  }
})();
/** For tests that need a daemon: skipped, saying why, with a volley that cannot serve a socket. */
const needsDaemon = daemonSupport ? {} : { skip: `${binary} has no \`serve --socket\`` };

// ---------------------------------------------------------------------------------------------
// Sockets, daemons, teardown

/** @type {string[]} */
const tempDirs = [];
/** Daemon pids seen in `initialize` answers. @type {Set<number>} */
const daemonPids = new Set();
/** @type {Set<import('node:child_process').ChildProcess>} */
const hosts = new Set();

/** A socket path in a new private temporary directory. */
function tempSocket() {
  const dir = mkdtempSync(join(tmpdir(), 'volley-shared-'));
  tempDirs.push(dir);
  return join(dir, 'volley.sock');
}


/** The live processes whose command line is `... --socket <path> ...`. */
function daemonsServing(path) {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args;
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = args.indexOf('--socket');
    if (at !== -1 && args[at + 1] === path && isRunning(Number(entry))) pids.push(Number(entry));
  }
  return pids.sort((a, b) => a - b);
}

/** Records the daemon a Volley is attached to, for teardown. */
function track(v) {
  const pid = v.info?.server?.pid;
  if (typeof pid === 'number') daemonPids.add(pid);
  return pid;
}

/** A Volley in shared mode on `socket`, on the mock provider, with no API keys. */
function sharedVolley(socket, options = {}) {
  return new Volley({ socket, binary, env: NO_KEYS, ...options });
}

after(() => {
  for (const host of hosts) host.kill('SIGKILL');
  const sockets = tempDirs.map((dir) => join(dir, 'volley.sock'));
  const pids = new Set([...daemonPids, ...sockets.flatMap((socket) => daemonsServing(socket))]);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Waits until `check()` returns a truthy value (polling every 20 ms), at most `ms`.
 * @template T
 * @param {() => T | Promise<T>} check
 * @param {string} what for the failure message
 * @returns {Promise<T>}
 */
async function waitFor(check, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// ---------------------------------------------------------------------------------------------
// Host processes

const hostScript = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'volley-hosts-'));
  tempDirs.push(dir);
  const path = join(dir, 'host.mjs');
  writeFileSync(
    path,
    `// A host: waits for "go" on stdin, attaches to the shared daemon, runs one batch.
import { Volley, chat } from ${JSON.stringify(join(clientDir, 'src', 'index.js'))};
const [socket, binary, count, latencyMs] = process.argv.slice(2);
const say = (event) => process.stdout.write(JSON.stringify(event) + '\\n');
const v = new Volley({ socket, binary, env: { OPENAI_API_KEY: undefined, ANTHROPIC_API_KEY: undefined } });
say({ event: 'ready' });
await new Promise((resolve) => process.stdin.once('data', resolve));
const info = await v.start();
say({ event: 'started', daemon: info.server.pid, connection: info.connection });
const items = Array.from({ length: Number(count) }, (_, i) =>
  chat('host ' + process.pid + ' item ' + i, { provider: 'mock', model: 'm', mock: { latency_ms: Number(latencyMs) } }));
const results = await v.gather(items);
say({ event: 'done', texts: results.map((r) => r.text) });
await v.close();
process.stdin.destroy();
`,
  );
  return path;
})();

/**
 * Starts a host process running `count` mock items of `latencyMs` each once told "go".
 * `next()` resolves with its next JSON line (bounded).
 */
function startHost(socket, count, latencyMs) {
  const child = spawn(process.execPath, [hostScript, socket, binary, String(count), String(latencyMs)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  hosts.add(child);
  child.on('exit', () => hosts.delete(child));
  const lines = [];
  const waiters = [];
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(JSON.parse(line));
    else lines.push(JSON.parse(line));
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    exited,
    go: () => child.stdin.write('go\n'),
    next: (ms = 15_000) => {
      if (lines.length) return Promise.resolve(lines.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`host ${child.pid}: no line within ${ms} ms; stderr:\n${stderr}`)), ms);
        exited.then(({ code }) => {
          clearTimeout(timer);
          reject(new Error(`host ${child.pid} exited (${code}) early; stderr:\n${stderr}`));
        });
        waiters.push((line) => {
          clearTimeout(timer);
          resolve(line);
        });
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Options (no daemon needed)

test('options: socket implies shared; shared: false with socket, bad values and typos throw', () => {
  assert.throws(() => new Volley({ shared: false, socket: '/tmp/x/volley.sock' }), (error) => {
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /socket .*shared: false/);
    return true;
  });
  assert.throws(() => new Volley({ sokcet: '/tmp/x.sock' }), /unknown option "sokcet" \(did you mean "socket"\?\)/);
  assert.throws(() => new Volley({ shraed: true }), /unknown option "shraed" \(did you mean "shared"\?\)/);
  assert.throws(() => new Volley({ shared: 'yes' }), /shared must be true or false/);
  assert.throws(() => new Volley({ socket: '' }), /socket must be the path of a Unix socket/);
  assert.throws(() => new Volley({ socket: `/tmp/${'x'.repeat(120)}.sock` }), /at most 107/);

  assert.equal(new Volley().socketPath, undefined, 'stdio stays the default');
  assert.equal(new Volley({ shared: false }).socketPath, undefined);
  assert.equal(new Volley({ socket: 'rel/volley.sock' }).socketPath, join(process.cwd(), 'rel', 'volley.sock'), 'made absolute');
  assert.equal(new Volley({ shared: true, env: { VOLLEY_SOCKET: '/tmp/mine/v.sock' } }).socketPath, '/tmp/mine/v.sock');
  assert.equal(new Volley({ shared: true, socket: '/tmp/other/v.sock' }).socketPath, '/tmp/other/v.sock');
});

test('defaultSocketPath: VOLLEY_SOCKET, else XDG_RUNTIME_DIR/volley, else /tmp/volley-<uid> (empty counts as unset)', () => {
  const uid = process.geteuid();
  assert.equal(defaultSocketPath({ VOLLEY_SOCKET: '/a/b.sock', XDG_RUNTIME_DIR: '/run/user/7' }), '/a/b.sock');
  assert.equal(defaultSocketPath({ VOLLEY_SOCKET: '', XDG_RUNTIME_DIR: '/run/user/7' }), '/run/user/7/volley/volley.sock');
  assert.equal(defaultSocketPath({ XDG_RUNTIME_DIR: '' }), `/tmp/volley-${uid}/volley.sock`);
  assert.equal(defaultSocketPath({}), `/tmp/volley-${uid}/volley.sock`);
});

test('a socket directory open to group or others is refused before anything is started', async () => {
  const socket = tempSocket();
  chmodSync(dirname(socket), 0o755);
  const v = sharedVolley(socket);
  await assert.rejects(v.ping(), (error) => {
    assert.ok(error instanceof SidecarCrashed, `${error}`);
    assert.match(error.message, /is open to group or others \(mode 0755\)/);
    return true;
  });
  assert.equal(existsSync(join(dirname(socket), 'volley.log')), false, 'no log written there');
  await v.close();
});

/** A fake volley that writes to stderr and fails at once, as a daemon refusing its flags would. */
function dyingBinary() {
  const dir = mkdtempSync(join(tmpdir(), 'volley-dying-'));
  tempDirs.push(dir);
  const path = join(dir, 'volley');
  writeFileSync(path, '#!/bin/sh\necho "fatal: cannot serve $3" >&2\nexit 1\n');
  chmodSync(path, 0o755);
  return path;
}

test('a daemon that cannot start: the start error has its exit code and the log lines it wrote', async () => {
  const socket = join(tempSocket(), '..', 'sub', 'volley.sock');
  const v = new Volley({ socket, binary: dyingBinary(), maxRestarts: 0 });
  const started = Date.now();
  await assert.rejects(v.ping(), (error) => {
    assert.ok(error instanceof SidecarCrashed, `${error}`);
    assert.equal(error.exitCode, 1);
    assert.match(error.message, /could not start the volley daemon for .*sub\/volley\.sock: .* exited with code 1/);
    assert.match(error.message, /last lines of .*sub\/volley\.log:\n  fatal: cannot serve .*volley\.sock/);
    assert.deepEqual(error.stderr, [`fatal: cannot serve ${v.socketPath}`]);
    return true;
  });
  assert.ok(Date.now() - started < 5000, 'failed as soon as it exited, not after the 10 s start timeout');
  const dir = dirname(v.socketPath);
  assert.equal(statSync(dir).mode & 0o777, 0o700, 'the socket directory is created private');
  assert.equal(statSync(join(dir, 'volley.log')).mode & 0o777, 0o600);
  await assert.rejects(v.ping(), /crashed 1 times in a row; not restarting/, 'start failures count as crashes');
  await v.close();
});

test('a volley binary that does not exist is a SidecarCrashed naming it', async () => {
  const v = new Volley({ socket: tempSocket(), binary: '/nonexistent/volley' });
  await assert.rejects(v.ping(), (error) => {
    assert.ok(error instanceof SidecarCrashed);
    assert.match(error.message, /could not run \/nonexistent\/volley: spawn \/nonexistent\/volley ENOENT/);
    assert.equal(error.cause.code, 'ENOENT');
    return true;
  });
  await v.close();
});

// ---------------------------------------------------------------------------------------------
// Every API on one shared daemon

const apiSocket = tempSocket();
const v = sharedVolley(apiSocket);
after(() => v.close());

test('start() attaches to a daemon it starts: initialize reports the daemon pid and the connection', needsDaemon, async () => {
  const info = await v.start();
  track(v);
  assert.equal(info.protocolVersion, 1);
  assert.equal(typeof info.server.pid, 'number');
  assert.equal(typeof info.connection, 'number');
  assert.equal(v.pid, info.server.pid, 'pid is the daemon');
  assert.notEqual(v.pid, process.pid);
  assert.ok(isRunning(v.pid));
  assert.deepEqual(daemonsServing(apiSocket), [v.pid], 'started as `volley serve --socket PATH ...`');
  assert.ok(statSync(apiSocket).isSocket());
  const cmdline = readFileSync(`/proc/${v.pid}/cmdline`, 'utf8').split('\0');
  assert.deepEqual(cmdline.slice(1, 6), ['serve', '--socket', apiSocket, '--idle-exit', '300']);
});

test('shared gather: input order, typed errors, failFast', needsDaemon, async () => {
  const latencies = [200, 10, 120, 1];
  const results = await v.gather(latencies.map((ms, i) => mockItem(`p${i}`, { latency_ms: ms, reply: `r${i}` })));
  assert.deepEqual(results.map((r) => r.text), ['r0', 'r1', 'r2', 'r3']);
  assert.equal(results.stats.succeeded, 4);

  const mixed = await v.gather(
    [mockItem('ok'), mockItem('bad', { fail: 'http', status: 404 }, { key: 'k' }), mockItem('limited', { fail: 'rate_limited', retry_after: 0.01 }, { maxRetries: 1 })],
    { returnExceptions: true },
  );
  assert.equal(mixed[0].text, 'Mock reply to: ok');
  assert.ok(mixed[1] instanceof HTTPError);
  assert.equal(mixed[1].status, 404);
  assert.equal(mixed[1].key, 'k');
  assert.ok(mixed[2] instanceof RateLimited);
  assert.equal(mixed[2].attempts, 2);

  await assert.rejects(v.gather([mockItem('slow', { latency_ms: 10_000 }), mockItem('bad', { fail: 'http', status: 400 })]), (error) => {
    assert.ok(error instanceof HTTPError);
    assert.ok(error.results[0] instanceof Cancelled, 'failFast cancelled the rest');
    return true;
  });
});

test('shared asCompleted: each outcome once, as it finishes; leaving early cancels the rest', needsDaemon, async () => {
  const items = [300, 5, 150].map((ms, i) => mockItem(`p${i}`, { latency_ms: ms }));
  const order = [];
  for await (const outcome of v.asCompleted(items)) order.push(outcome.index);
  assert.deepEqual(order, [1, 2, 0]);

  const before = await v.stats();
  for await (const outcome of v.asCompleted([mockItem('fast', { latency_ms: 1 }), mockItem('slow', { latency_ms: 10_000 })])) {
    assert.equal(outcome.index, 0);
    break;
  }
  const stats = await v.stats();
  assert.equal(stats.cancelled - before.cancelled, 1);
  assert.equal(stats.batchesActive, 0);
});

test('shared call: a value, or the typed error with its attempts', needsDaemon, async () => {
  assert.equal((await v.call(mockItem('hi'))).text, 'Mock reply to: hi');
  await assert.rejects(v.call(mockItem('x', { fail: 'overloaded', retry_after: 0.01 }, { maxRetries: 1 })), (error) => {
    assert.equal(error.name, 'Overloaded');
    assert.equal(error.attempts, 2);
    return true;
  });
});

test('shared cancellation: an AbortSignal cancels in the daemon and rejects with what finished', needsDaemon, async () => {
  const controller = new AbortController();
  const items = [mockItem('fast', { latency_ms: 1, reply: 'early' }), mockItem('slow', { latency_ms: 10_000 })];
  const before = await v.stats();
  const pending = v.gather(items, { signal: controller.signal });
  await waitFor(async () => (await v.stats()).completed === before.completed + 1, 'the fast item to finish');
  controller.abort();
  await assert.rejects(pending, (error) => {
    assert.ok(error instanceof AbortError);
    assert.equal(error.results[0].text, 'early');
    assert.ok(error.results[1] instanceof Cancelled);
    return true;
  });
  await assert.rejects(v.call(mockItem('slow', { latency_ms: 10_000 }), { signal: AbortSignal.timeout(100) }), { name: 'AbortError' });
  assert.equal((await v.stats()).batchesActive, 0);
});

test('shared progress: onProgress ends with every item done', needsDaemon, async () => {
  const seen = [];
  await v.gather(
    Array.from({ length: 20 }, (_, i) => mockItem(`p${i}`, { latency_ms: 5 + i * 5 })),
    { onProgress: (p) => seen.push(p), concurrency: 4 },
  );
  assert.deepEqual(seen.at(-1), { done: 20, failed: 0, total: 20 });
});

test('shared stats, configure and ping: per connection, with the connection listed', needsDaemon, async () => {
  await v.ping();
  const configured = await v.configure({ providers: { quick: { kind: 'mock', latencyMs: 1 } }, defaultProvider: 'quick' });
  assert.deepEqual(configured.providers.sort(), ['mock', 'quick']);
  assert.equal((await v.call('configured')).text, 'Mock reply to: configured');
  const stats = await v.stats();
  assert.equal(stats.connection, v.info.connection);
  const mine = stats.connections.find((c) => c.id === v.info.connection);
  assert.equal(mine.pid, process.pid, 'the host pid, from the socket peer credentials');
  assert.equal(mine.client, 'volley-node 0.1.0');
  assert.equal(mine.itemsPending, 0);
  assert.equal(typeof mine.requestsRunning, 'number');
  assert.equal(stats.providers.quick.kind, 'mock');
  for (const limiter of Object.values(stats.limiters)) assert.ok(Array.isArray(limiter.connections), 'each limiter lists its connections');
});

test('shared close(): drains this connection, leaves the daemon running; later calls reject', needsDaemon, async () => {
  const w = sharedVolley(apiSocket);
  await w.start();
  assert.equal(w.pid, v.pid, 'attached to the running daemon');
  const running = w.gather([mockItem('drained', { latency_ms: 200 })]);
  await waitFor(async () => (await v.stats()).connections.some((c) => c.id === w.info.connection && c.itemsPending === 1), 'the batch in flight');
  await w.close();
  assert.equal((await running)[0].text, 'Mock reply to: drained');
  await assert.rejects(w.ping(), (error) => error instanceof VolleyError && error.kind === 'closed');
  assert.ok(isRunning(v.pid), 'the daemon is still running');
  await waitFor(async () => !(await v.stats()).connections.some((c) => c.id === w.info.connection), 'the connection to go');
  await v.ping();
});

// ---------------------------------------------------------------------------------------------
// Many hosts, one daemon

test('two Volley objects share one daemon; stats lists both connections', needsDaemon, async () => {
  const socket = tempSocket();
  const a = sharedVolley(socket);
  const b = sharedVolley(socket);
  try {
    const [infoA, infoB] = await Promise.all([a.start(), b.start()]);
    track(a);
    track(b);
    assert.equal(infoA.server.pid, infoB.server.pid, 'one daemon');
    assert.notEqual(infoA.connection, infoB.connection);
    assert.deepEqual(daemonsServing(socket), [a.pid], 'exactly one daemon process');
    const [ra, rb] = await Promise.all([a.gather([mockItem('from a')]), b.gather([mockItem('from b')])]);
    assert.equal(ra[0].text, 'Mock reply to: from a');
    assert.equal(rb[0].text, 'Mock reply to: from b');
    const stats = await a.stats();
    assert.deepEqual(
      stats.connections.map((c) => [c.id, c.pid, c.client]),
      [infoA.connection, infoB.connection].sort((x, y) => x - y).map((id) => [id, process.pid, 'volley-node 0.1.0']),
    );
    assert.equal((await b.stats()).connection, infoB.connection);
    await a.close();
    assert.equal((await b.call(mockItem('still here'))).text, 'Mock reply to: still here', "a's close did not stop the daemon");
  } finally {
    await a.close();
    await b.close();
  }
  assert.deepEqual(daemonsServing(socket), [a.info.server.pid], 'close() never stops the daemon');
});

test("the daemon's flags come only from the host that started it", needsDaemon, async () => {
  const socket = tempSocket();
  const starter = sharedVolley(socket, { logLevel: 'info', maxLineBytes: 2_000_000 });
  const attacher = sharedVolley(socket, { logLevel: 'error', maxLineBytes: 1000 });
  try {
    await starter.start();
    track(starter);
    const info = await attacher.start();
    assert.equal(attacher.pid, starter.pid);
    assert.equal(info.limits.maxLineBytes, 2_000_000, "the starter's --max-line-bytes, not the attacher's");
    const cmdline = readFileSync(`/proc/${starter.pid}/cmdline`, 'utf8').split('\0');
    assert.deepEqual(cmdline.slice(6, 10), ['--log-level', 'info', '--max-line-bytes', '2000000']);
    const log = readFileSync(join(dirname(socket), 'volley.log'), 'utf8');
    assert.match(log, /volley serving/, 'the daemon logs to volley.log next to the socket, at the level its starter asked');
    assert.equal(statSync(join(dirname(socket), 'volley.log')).mode & 0o777, 0o600);
  } finally {
    await attacher.close();
    await starter.close();
  }
});

test('10 host processes started at the same moment end up on one daemon', { ...needsDaemon, timeout: 60_000 }, async () => {
  const socket = tempSocket();
  const started = Array.from({ length: 10 }, () => startHost(socket, 3, 20));
  for (const host of started) assert.equal((await host.next()).event, 'ready');
  for (const host of started) host.go();
  const reports = await Promise.all(started.map((host) => host.next()));
  for (const report of reports) {
    assert.equal(report.event, 'started');
    daemonPids.add(report.daemon);
  }
  const daemon = reports[0].daemon;
  assert.deepEqual(reports.map((r) => r.daemon), Array(10).fill(daemon), 'the same daemon pid in every host');
  assert.equal(new Set(reports.map((r) => r.connection)).size, 10, 'ten connections');
  for (const [i, host] of started.entries()) {
    const done = await host.next();
    assert.deepEqual(done.texts, [0, 1, 2].map((n) => `Mock reply to: host ${host.child.pid} item ${n}`), `host ${i}`);
    assert.deepEqual(await host.exited, { code: 0, signal: null });
  }
  // Daemons that lost the race exit with code 3 at once; wait (bounded) for the last of them.
  await waitFor(() => daemonsServing(socket).length === 1, 'the losing daemons to exit');
  assert.deepEqual(daemonsServing(socket), [daemon], 'exactly one daemon process alive');
  assert.ok(isRunning(daemon), 'and it outlives every host');
});

test('SIGKILL to the daemon mid-batch rejects the pending calls; the next call starts a new daemon', needsDaemon, async () => {
  const socket = tempSocket();
  const w = sharedVolley(socket);
  try {
    await w.start();
    const pid = track(w);
    const slow = [mockItem('a', { latency_ms: 10_000 }), mockItem('b', { latency_ms: 10_000 })];
    const batch = w.gather(slow);
    const single = w.call(mockItem('c', { latency_ms: 10_000 }));
    const stream = (async () => {
      for await (const _ of w.asCompleted(slow)) {
        // nothing arrives before the kill
      }
    })();
    await waitFor(async () => (await w.stats()).inFlight === 5, 'the five items in flight');
    const killed = Date.now();
    process.kill(pid, 'SIGKILL');
    for (const pending of [batch, single, stream]) {
      await assert.rejects(pending, (error) => {
        assert.ok(error instanceof SidecarCrashed, `${error}`);
        assert.match(error.message, /^lost the connection to volley with \d request\(s\) pending: the volley daemon \(pid \d+\) at .* closed the connection/);
        return true;
      });
    }
    assert.ok(Date.now() - killed < 2000, `rejected ${Date.now() - killed} ms after the kill`);
    assert.equal(w.pid, undefined);

    const [value] = await w.gather([mockItem('after restart', { latency_ms: 5 })]);
    assert.equal(value.text, 'Mock reply to: after restart');
    const newPid = track(w);
    assert.notEqual(newPid, pid, 'a new daemon');
    assert.equal(w.pid, newPid);
    assert.deepEqual(daemonsServing(socket), [newPid]);
  } finally {
    await w.close();
  }
});

test('SIGTERM to the daemon: pending batches reject with Cancelled holding what finished; the next call reconnects', needsDaemon, async () => {
  const socket = tempSocket();
  const w = sharedVolley(socket);
  try {
    await w.start();
    const pid = track(w);
    const pending = assert.rejects(w.gather([mockItem('fast', { latency_ms: 1 }), mockItem('slow', { latency_ms: 10_000 })]), (error) => {
      assert.equal(error.name, 'Cancelled');
      assert.equal(error.results[0].text, 'Mock reply to: fast');
      assert.ok(error.results[1] instanceof Cancelled);
      return true;
    });
    await waitFor(async () => (await w.stats()).completed === 1, 'the fast item to finish');
    process.kill(pid, 'SIGTERM');
    await pending;
    await waitFor(() => !isRunning(pid), 'the daemon to exit');
    assert.equal((await w.call(mockItem('again'))).text, 'Mock reply to: again');
    assert.notEqual(track(w), pid);
  } finally {
    await w.close();
  }
});

test('killing one host mid-batch cancels its work and leaves another host\'s batch to finish', { ...needsDaemon, timeout: 60_000 }, async () => {
  const socket = tempSocket();
  const w = sharedVolley(socket);
  try {
    await w.start();
    track(w);
    const doomed = startHost(socket, 4, 30_000);
    assert.equal((await doomed.next()).event, 'ready');
    doomed.go();
    const { daemon } = await doomed.next();
    assert.equal(daemon, w.pid, 'the host attached to the same daemon');

    let finished = false;
    const mine = w.gather([1, 2, 3].map((n) => mockItem(`mine ${n}`, { latency_ms: 1500 }))).finally(() => (finished = true));
    const before = await waitFor(async () => {
      const stats = await w.stats();
      const host = stats.connections.find((c) => c.pid === doomed.child.pid);
      const self = stats.connections.find((c) => c.id === w.info.connection);
      return host?.itemsPending === 4 && self?.itemsPending === 3 && stats;
    }, 'both batches in flight');
    doomed.child.kill('SIGKILL');
    assert.deepEqual(await doomed.exited, { code: null, signal: 'SIGKILL' });
    assert.equal(finished, false, 'our batch was still running when the other host died');

    const results = await mine;
    assert.deepEqual(results.map((r) => r.text), ['Mock reply to: mine 1', 'Mock reply to: mine 2', 'Mock reply to: mine 3']);
    const after = await waitFor(async () => {
      const stats = await w.stats();
      return !stats.connections.some((c) => c.pid === doomed.child.pid) && stats;
    }, 'the dead host\'s connection to go');
    assert.equal(after.cancelled - before.cancelled, 4, "the dead host's items were cancelled");
    assert.ok(isRunning(w.pid));
  } finally {
    await w.close();
  }
});

test('a host script that never calls close() exits on its own; the daemon it started keeps running', needsDaemon, async () => {
  const socket = tempSocket();
  const script = `
    import { Volley } from ${JSON.stringify(join(clientDir, 'src', 'index.js'))};
    const v = new Volley({ socket: ${JSON.stringify(socket)}, binary: ${JSON.stringify(binary)} });
    const [r] = await v.gather([{ provider: 'mock', request: { messages: [{ role: 'user', content: 'x' }], mock: { latency_ms: 10 } } }]);
    console.log(JSON.stringify({ text: r.text, daemon: v.pid }));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const exit = await new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  assert.equal(exit, 0);
  const { text, daemon } = JSON.parse(stdout);
  daemonPids.add(daemon);
  assert.equal(text, 'Mock reply to: x');
  assert.ok(isRunning(daemon), 'the daemon outlives the host that started it');
  const w = sharedVolley(socket);
  try {
    await w.start();
    assert.equal(w.pid, daemon, 'and the next host attaches to it');
    await waitFor(async () => (await w.stats()).connections.every((c) => c.pid === process.pid), "the exited host's connection to go");
  } finally {
    await w.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Each connection's own environment

const fakeLLM = [process.env.VOLLEY_FAKE_LLM, join(dirname(binary), 'volley-fake-llm'), join(repoRoot, '.build', 'debug', 'volley-fake-llm')].find(
  (path) => path && existsSync(path),
);

const needsFakeLLM = { ...needsDaemon, skip: needsDaemon.skip ?? (!fakeLLM && 'no volley-fake-llm') };

/** Starts volley-fake-llm; resolves with its OpenAI base URL (`.../v1`) and the process. */
async function startFakeLLM() {
  const server = spawn(fakeLLM, ['--latency-ms', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: server.stdout }).once('line', resolve);
    server.once('exit', (code) => reject(new Error(`volley-fake-llm exited with ${code}`)));
  });
  return { server, baseUrl: `${JSON.parse(line).base_url}/v1` };
}

test('each connection resolves providers with its own host environment, sent in initialize', needsFakeLLM, async () => {
  const { server, baseUrl } = await startFakeLLM();
  const socket = tempSocket();
  const keyless = sharedVolley(socket);
  let keyed;
  try {
    // The daemon is started by a host with no keys: its own environment has none.
    await keyless.start();
    track(keyless);
    keyed = sharedVolley(socket, { env: { ...NO_KEYS, OPENAI_API_KEY: 'sk-test-connection', OPENAI_BASE_URL: baseUrl } });
    const info = await keyed.start();
    assert.equal(keyed.pid, keyless.pid, 'the same daemon');
    assert.ok(info.capabilities.providers.includes('openai'), "openai from this host's OPENAI_API_KEY");
    const [answer] = await keyed.gather([{ request: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }] } }]);
    assert.match(answer.text, /^Echo: hello there/);

    await assert.rejects(keyless.gather([{ request: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] } }]), (error) => {
      assert.ok(error instanceof ProtocolError);
      assert.match(error.message, /OPENAI_API_KEY/);
      return true;
    });
    const stats = await keyed.stats();
    assert.equal(stats.providers.openai.hasKey, true);
    assert.doesNotMatch(JSON.stringify(stats), /sk-test-connection/, 'the key is never echoed');
  } finally {
    await keyed?.close();
    await keyless.close();
    server.kill();
  }
});

test("the apiKeyEnv of the client's providers and of its configPath file are sent with initialize", needsFakeLLM, async () => {
  const { server, baseUrl } = await startFakeLLM();
  const socket = tempSocket();
  const configPath = join(dirname(socket), 'config.json');
  writeFileSync(configPath, JSON.stringify({ providers: { fromfile: { kind: 'openai', base_url: baseUrl, api_key_env: 'FILE_KEY' } } }));
  // The daemon is started by a host without the keys; the Volley under test attaches to it.
  const starter = sharedVolley(socket, { configPath });
  const v = sharedVolley(socket, {
    configPath,
    providers: { fromoption: { kind: 'openai', baseUrl, apiKeyEnv: 'OPTION_KEY' } },
    env: { ...NO_KEYS, FILE_KEY: 'k1', OPTION_KEY: 'k2' },
  });
  try {
    await starter.start();
    track(starter);
    assert.equal((await starter.stats()).providers.fromfile.hasKey, false, "the starter's session has no FILE_KEY");
    await v.start();
    assert.equal(v.pid, starter.pid);
    const stats = await v.stats();
    assert.equal(stats.providers.fromfile.hasKey, true, 'FILE_KEY reached the session');
    assert.equal(stats.providers.fromoption.hasKey, true, 'OPTION_KEY reached the session');
    const [a, b] = await v.gather([
      { provider: 'fromfile', request: { model: 'm', messages: [{ role: 'user', content: 'file' }] } },
      { provider: 'fromoption', request: { model: 'm', messages: [{ role: 'user', content: 'option' }] } },
    ]);
    assert.match(a.text, /^Echo: file/);
    assert.match(b.text, /^Echo: option/);
  } finally {
    await v.close();
    await starter.close();
    server.kill();
  }
});

test('a provider configured later reads its apiKeyEnv from this host: configure sends the variable', needsFakeLLM, async () => {
  const { server, baseUrl } = await startFakeLLM();
  const socket = tempSocket();
  const keyless = sharedVolley(socket);
  const v = sharedVolley(socket, { env: { ...NO_KEYS, LATER_KEY: 'sk-later' } });
  try {
    await keyless.start();
    track(keyless);
    await v.start();
    const gw = { gw: { kind: 'openai', baseUrl, apiKeyEnv: 'LATER_KEY' } };
    const answer = await v.configure({ providers: gw });
    assert.equal(answer.warnings, undefined, 'LATER_KEY reached the session');
    assert.equal((await v.stats()).providers.gw.hasKey, true);
    const [reply] = await v.gather([{ provider: 'gw', request: { model: 'm', messages: [{ role: 'user', content: 'later' }] } }]);
    assert.match(reply.text, /^Echo: later/);
    // The other host's session has no such variable: the same provider has no key there.
    const other = await keyless.configure({ providers: gw });
    assert.ok(other.warnings?.some((warning) => /LATER_KEY/.test(warning)));
    assert.doesNotMatch(JSON.stringify(await v.stats()), /sk-later/);
  } finally {
    await v.close();
    await keyless.close();
    server.kill();
  }
});
