// LineSplitter: lines are split on bytes and decoded whole, whatever the chunking.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSplitter } from '../src/lines.js';

function split(chunks) {
  const lines = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return lines;
}

test('multi-byte characters cut at every byte offset come out whole', () => {
  const text = 'a🎉漢é字🙂z\n' + '{"t":"日本語🎌"}\n';
  const bytes = Buffer.from(text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const lines = split([bytes.subarray(0, cut), bytes.subarray(cut)]);
    assert.deepEqual(lines, ['a🎉漢é字🙂z', '{"t":"日本語🎌"}'], `cut at byte ${cut}`);
  }
});

test('one byte at a time', () => {
  const text = '🎉🎉🎉\n漢字\n';
  const bytes = Buffer.from(text);
  const chunks = [...bytes].map((b) => Buffer.from([b]));
  assert.deepEqual(split(chunks), ['🎉🎉🎉', '漢字']);
});

test('a long line over many chunks is assembled once', () => {
  const line = '🎉漢'.repeat(200_000); // 1.4 MB
  const bytes = Buffer.from(line + '\nnext\n');
  const chunks = [];
  for (let i = 0; i < bytes.length; i += 65_537) chunks.push(bytes.subarray(i, i + 65_537));
  const lines = split(chunks);
  assert.equal(lines.length, 2);
  assert.equal(lines[0], line);
  assert.equal(lines[1], 'next');
});

test('CRLF is stripped, blank lines are skipped, a last line without newline is kept', () => {
  assert.deepEqual(split([Buffer.from('a\r\n\n\r\nb\nc')]), ['a', 'b', 'c']);
});

test('several lines in one chunk', () => {
  assert.deepEqual(split([Buffer.from('1\n2\n3\n')]), ['1', '2', '3']);
});
