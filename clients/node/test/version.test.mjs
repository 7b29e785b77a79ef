// The version this library sends and requires, what it does when it meets a server of another
// protocol version, and the binary a packaged library carries. (That every copy of the version
// agrees with the binary's and the Python client's is checked once, by
// clients/python/tests/test_versions.py.)

import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PROTOCOL_VERSION, ProtocolVersionMismatch, VERSION, Volley, chat } from '../src/index.js';
import { clientDir, mockVolley } from './helpers.mjs';

test('VERSION is package.json\'s, and the sidecar answers with the same version and protocol', async () => {
  const manifest = JSON.parse(readFileSync(join(clientDir, 'package.json'), 'utf8'));
  assert.equal(VERSION, manifest.version);
  const v = mockVolley();
  try {
    const info = await v.start();
    assert.equal(info.protocolVersion, PROTOCOL_VERSION);
    assert.equal(info.server.version, VERSION);
  } finally {
    await v.close();
  }
});

/**
 * A stand-in for a volley of another protocol version: it answers `initialize` only, refusing
 * the client's version (as volley does for any version but its own) or answering with its own.
 * @param {boolean} refuse
 */
function fakeServer(refuse) {
  const dir = mkdtempSync(join(tmpdir(), 'volley-protocol-'));
  const path = join(dir, 'volley');
  writeFileSync(path, `#!${process.execPath}
const readline = require('node:readline');
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const message = JSON.parse(line);
  if (message.method !== 'initialize') return;
  const reply = ${refuse}
    ? { error: { code: -32602, message: 'unsupported protocol_version 1; this server speaks 2',
                 data: { supported: [2], requested: message.params.protocol_version } } }
    : { result: { protocol_version: 2, server: { name: 'volley', version: '9.0.0', pid: 1 } } };
  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: message.id, ...reply }) + '\\n');
});
`);
  chmodSync(path, 0o755);
  return { dir, path };
}

for (const refuse of [true, false]) {
  test(`a server of another protocol version is a clear error (${refuse ? 'it refuses ours' : 'it answers its own'})`, async () => {
    const { dir, path } = fakeServer(refuse);
    const v = new Volley({ binary: path });
    try {
      const error = await v.gather([chat('hi', { provider: 'mock' })]).then(
        () => assert.fail('gather resolved'),
        (e) => e,
      );
      assert.ok(error instanceof ProtocolVersionMismatch, String(error));
      assert.match(error.message, new RegExp(`^volley at ${path}`));
      assert.ok(error.message.includes(`speaks protocol version 2; this client (volley-node ${VERSION}) speaks protocol version ${PROTOCOL_VERSION}: use a volley binary of this client's release`), error.message);
      assert.equal(error.message.includes('(volley 9.0.0)'), !refuse);
      assert.deepEqual([error.clientProtocol, error.serverProtocols, error.serverVersion], [PROTOCOL_VERSION, [2], refuse ? undefined : '9.0.0']);
      // Not a crash: the next call meets the same server and says the same.
      await assert.rejects(v.ping(), ProtocolVersionMismatch);
    } finally {
      await v.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('findBinary: a packaged library\'s own bin/volley comes before VOLLEY_BIN and PATH; the binary option before it', async () => {
  // The layout of the tarball scripts/package makes: src/binary.js and bin/volley in one package.
  const dir = mkdtempSync(join(tmpdir(), 'volley-package-'));
  try {
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'bin'));
    copyFileSync(join(clientDir, 'src', 'binary.js'), join(dir, 'src', 'binary.js'));
    writeFileSync(join(dir, 'bin', 'volley'), '#!/bin/sh\n');
    chmodSync(join(dir, 'bin', 'volley'), 0o755);
    const { findBinary } = await import(pathToFileURL(join(dir, 'src', 'binary.js')).href);
    assert.equal(findBinary(undefined, { VOLLEY_BIN: '/y/volley', PATH: '/usr/bin' }), join(dir, 'bin', 'volley'));
    assert.equal(findBinary('/x/volley', { VOLLEY_BIN: '/y/volley' }), '/x/volley');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
