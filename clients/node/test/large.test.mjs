// Big and multi-byte lines both ways: UTF-8 split across pipe reads, a 10 MB prompt, a
// 12 MB reply, and a request too long for the sidecar.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ProtocolError } from '../src/index.js';
import { mockItem, mockVolley } from './helpers.mjs';

const v = mockVolley();
after(() => v.close());

test('emoji and CJK replies survive chunk boundaries that fall mid-character', async () => {
  // ~1.2 MB of 4-, 3- and 2-byte characters on one line: it arrives in many 64 KiB reads, and
  // the reply's byte length is not a multiple of any character width, so reads end inside
  // characters.
  const replies = [
    '🎉漢字é'.repeat(100_000),
    'x' + '😀'.repeat(150_001),
    'ab' + '語'.repeat(200_003),
  ];
  const results = await v.gather(replies.map((reply, i) => mockItem(`u${i}`, { reply })));
  results.forEach((result, i) => {
    assert.equal(result.text.length, replies[i].length, `reply ${i} length`);
    assert.ok(result.text === replies[i], `reply ${i} identical`);
    assert.ok(!result.text.includes('\uFFFD'), 'no replacement characters');
  });
  for await (const outcome of v.asCompleted([mockItem('s', { reply: replies[0] })])) {
    assert.ok(outcome.value.text === replies[0]);
  }
});

test('a 10 MB prompt goes through', async () => {
  const prompt = 'Summarise: ' + 'lorem ipsum 漢字 '.repeat(650_000); // ~10.4 MB of UTF-8
  assert.ok(Buffer.byteLength(prompt) > 10_000_000);
  const value = await v.call(mockItem(prompt));
  assert.ok(value.text.startsWith('Mock reply to: Summarise: lorem ipsum'));
  assert.ok(value.usage.inputTokens > 1_000_000, 'the sidecar saw the whole prompt');
});

test('a 12 MB reply on one line comes back whole', async () => {
  const reply = 'r'.repeat(12 * 1024 * 1024);
  const value = await v.call(mockItem('big', { reply }));
  assert.equal(value.text.length, reply.length);
});

test('a request longer than the sidecar accepts is refused locally, and the sidecar keeps serving', async () => {
  const w = mockVolley({ maxLineBytes: 64 * 1024 });
  try {
    await assert.rejects(w.call(mockItem('y'.repeat(100_000))), (error) => {
      assert.ok(error instanceof ProtocolError);
      assert.equal(error.code, -32010);
      assert.equal(error.data.max_line_bytes, 64 * 1024);
      return true;
    });
    // Multi-byte: under the limit in UTF-16 code units, over it in bytes.
    await assert.rejects(w.call(mockItem('漢'.repeat(30_000))), ProtocolError);
    assert.equal((await w.call(mockItem('small'))).text, 'Mock reply to: small');
  } finally {
    await w.close();
  }
});
