// Embedding vectors from the wire, without a sidecar: base64 of little-endian float32s and
// number arrays become Float32Arrays, each on an aligned buffer of its own, for about the cost
// of one base64 decode; a vector that cannot be read is the item's ProviderError.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeEmbedding, ProviderError } from '../src/index.js';
import { outcomeFromWire, resultsFromWire, valueFromWire } from '../src/convert.js';

/** Base64 of `numbers` as little-endian float32s, written byte by byte (whatever this machine's order). */
function littleEndianBase64(numbers) {
  const view = new DataView(new ArrayBuffer(numbers.length * 4));
  numbers.forEach((n, i) => view.setFloat32(i * 4, n, true));
  return Buffer.from(view.buffer).toString('base64');
}

const numbers = [1, -2.5, 0.1, 3.4028234663852886e38, -0, 1e-45, 0.123456789];

test('decodeEmbedding reads little-endian float32s', () => {
  const vector = decodeEmbedding(littleEndianBase64(numbers));
  assert.ok(vector instanceof Float32Array);
  assert.deepEqual([...vector], numbers.map((n) => Math.fround(n)));
  assert.ok(Object.is(vector[4], -0));
  // The bytes as the OpenAI API documents them: 1.0f is 00 00 80 3f.
  assert.deepEqual([...decodeEmbedding('AACAPw==')], [1]);
  assert.equal(decodeEmbedding('').length, 0);
});

test('every vector is aligned and owns exactly its buffer, however small (no pooled slab behind it)', () => {
  // Buffer.from(s, 'base64') puts small results in a shared 8 KiB pool at any offset: a view
  // over it would expose the pool and keep it alive.
  for (let length = 1; length <= 40; length += 1) {
    const vector = decodeEmbedding(littleEndianBase64(Array.from({ length }, (_, i) => i / 7)));
    assert.equal(vector.length, length);
    assert.equal(vector.byteOffset, 0);
    assert.equal(vector.buffer.byteLength, length * 4);
  }
  const [a, b] = valueFromWire({ embeddings: [littleEndianBase64([1, 2]), littleEndianBase64([3, 4])], encoding: 'base64', dimensions: 2 })
    .embeddings;
  assert.notEqual(a.buffer, b.buffer, 'one buffer per vector: transferring one moves no other');
});

test('what is not base64 of whole float32s is refused', () => {
  assert.throws(() => decodeEmbedding('AAA='), { name: 'TypeError', message: /not base64 of little-endian float32s/ }); // 2 bytes
  assert.deepEqual([...decodeEmbedding('AAAAAA==')], [0], 'padded, 4 bytes: one float');
  assert.throws(() => decodeEmbedding('AA!AAAAA'), TypeError, 'a character outside base64');
  assert.throws(() => decodeEmbedding('AAAA AAAA'), TypeError, 'whitespace');
  assert.throws(() => decodeEmbedding(42), { name: 'TypeError', message: /expected a base64 string, got number/ });
});

test('base64 and float values of the same vectors decode equal; names in camelCase, the rest as sent', () => {
  const vectors = [numbers, numbers.map((n) => n / 3)];
  const wire = (encoding, embeddings) => ({
    text: null,
    finish_reason: null,
    model: 'text-embedding-3-small',
    usage: { input_tokens: 4, output_tokens: 0 },
    embeddings,
    encoding,
    dimensions: numbers.length,
  });
  const base64 = valueFromWire(wire('base64', vectors.map(littleEndianBase64)));
  const float = valueFromWire(wire('float', vectors));
  assert.deepEqual(Object.keys(base64), ['text', 'finishReason', 'model', 'usage', 'embeddings', 'encoding', 'dimensions']);
  assert.deepEqual(base64.usage, { inputTokens: 4, outputTokens: 0 });
  assert.equal(base64.encoding, 'base64');
  assert.equal(float.encoding, 'float');
  assert.equal(base64.dimensions, numbers.length);
  for (const [i, vector] of base64.embeddings.entries()) {
    assert.ok(float.embeddings[i] instanceof Float32Array);
    assert.deepEqual(vector, float.embeddings[i]);
  }
  // A raw call's body and a Responses value's fields are kept as sent.
  assert.deepEqual(valueFromWire({ status: 200, body: { some_field: [1], embedding: 'AACAPw==' } }), {
    status: 200,
    body: { some_field: [1], embedding: 'AACAPw==' },
  });
  assert.deepEqual(valueFromWire({ text: 't', finish_reason: 'tool_calls', id: 'resp_1', tool_calls: [{ id: 'c' }] }), {
    text: 't',
    finishReason: 'tool_calls',
    id: 'resp_1',
    toolCalls: [{ id: 'c' }],
  });
});

test('a vector that cannot be read fails its item with ProviderError; the other items are unaffected', () => {
  const good = { index: 0, provider: 'p', ok: true, value: { embeddings: [littleEndianBase64([1])], encoding: 'base64', dimensions: 1 }, attempts: 1 };
  const bad = { index: 1, key: 'k', provider: 'p', ok: true, value: { embeddings: ['AAAAAA==', 'AAA='], encoding: 'base64' }, attempts: 2 };
  const wrongType = { index: 2, provider: 'p', ok: true, value: { embeddings: ['AAAAAA=='], encoding: 'float' }, attempts: 1 };
  const results = resultsFromWire([good, bad, wrongType], { succeeded: 3 });
  assert.deepEqual([...results[0].embeddings[0]], [1]);
  assert.ok(results[1] instanceof ProviderError);
  assert.equal(results[1].kind, 'provider_error');
  assert.match(results[1].message, /embedding 1 of the reply is not base64 of little-endian float32s: "AAA="/);
  assert.deepEqual([results[1].index, results[1].key, results[1].attempts], [1, 'k', 2]);
  assert.ok(results[2] instanceof ProviderError);
  assert.match(results[2].message, /not an array of numbers/);
  const outcome = results.outcomes[1];
  assert.equal(outcome.ok, false);
  assert.equal(outcome.value, undefined);
  assert.equal(outcome.error, results[1], 'the slot and its outcome hold the same error');
  assert.equal(results.outcomes[0].ok, true);
  // asCompleted's path: an outcome on its own.
  const alone = outcomeFromWire(bad);
  assert.equal(alone.ok, false);
  assert.ok(alone.error instanceof ProviderError);
  assert.equal(alone.provider, 'p');
  // call()'s path: the value itself throws.
  assert.throws(() => valueFromWire(bad.value), ProviderError);
  // An encoding this client does not know is handed on as sent, not failed.
  assert.deepEqual(valueFromWire({ embeddings: [[1, 2]], encoding: 'int8', dimensions: 2 }).embeddings, [[1, 2]]);
});

test('10,000 vectors of 1,536 floats cost about one decode of their bytes', () => {
  const count = 10_000;
  const dimensions = 1_536;
  const source = new Float32Array(dimensions);
  const strings = [];
  for (let i = 0; i < count; i += 1) {
    source[i % dimensions] = i; // each vector different, cheaply
    strings.push(Buffer.from(source.buffer).toString('base64'));
  }
  const wire = { text: null, finish_reason: null, embeddings: strings, encoding: 'base64', dimensions };
  const best = (run) => {
    let fastest = Infinity;
    for (let round = 0; round < 3; round += 1) {
      const start = performance.now();
      run();
      fastest = Math.min(fastest, performance.now() - start);
    }
    return fastest;
  };
  const oneDecode = best(() => {
    for (const s of strings) Buffer.from(s, 'base64');
  });
  /** @type {any} */
  let value;
  const decoded = best(() => {
    value = valueFromWire(wire);
  });
  assert.equal(value.embeddings.length, count);
  assert.equal(value.embeddings[count - 1][(count - 1) % dimensions], count - 1);
  assert.equal(value.embeddings[count - 1].length, dimensions);
  // Measured here at about 1.0x; a per-number loop or a second copy would be several times it.
  assert.ok(decoded < oneDecode * 2.5 + 20, `decoding took ${decoded.toFixed(1)} ms; Buffer.from alone ${oneDecode.toFixed(1)} ms`);
});
