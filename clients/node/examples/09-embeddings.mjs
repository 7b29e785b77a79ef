// Embeddings: 10,000 short texts in one call. v.embed() sends them 256 to a request, runs the
// requests as one batch under the provider's limits and retries, and hands back one
// Float32Array per text, in order, decoded straight from the base64 the API sends (4x smaller
// than numbers written out, and never parsed number by number).
//
// Runs offline on Volley's built-in mock provider (deterministic unit vectors: the same text,
// the same vector), or on OpenAI when OPENAI_API_KEY is set. Checks its own output, so the
// tests run it: node examples/09-embeddings.mjs

import assert from 'node:assert/strict';
import { Volley, embed } from 'volley';

const live = Boolean(process.env.OPENAI_API_KEY);
const v = new Volley({ defaultProvider: live ? 'openai' : 'mock' });
const options = { model: 'text-embedding-3-small', dimensions: live ? 256 : 32, ...(live ? {} : { mock: { latencyMs: 0 } }) };

const topics = ['billing', 'login', 'shipping', 'refunds', 'account deletion'];
const texts = Array.from({ length: 10_000 }, (_, i) => `ticket ${i}: a question about ${topics[i % topics.length]}`);
texts[9_999] = texts[0]; // the same text twice

/** Cosine similarity; the vectors are unit length, so the dot product. */
const similarity = (a, b) => a.reduce((sum, x, i) => sum + x * b[i], 0);

try {
  const start = performance.now();
  const vectors = await v.embed(texts, options);
  const elapsed = (performance.now() - start) / 1000;
  console.log(`${vectors.length} vectors of ${vectors[0].length} floats in ${elapsed.toFixed(2)}s`);

  // The nearest tickets to a query: one more embedding, as an item (items of every endpoint mix in
  // one batch). The mock's vectors are hashes of the text: offline, this ranking means nothing.
  const [query] = await v.gather([embed('I was charged twice', { ...options, key: 'query' })]);
  const ranked = vectors
    .slice(0, 50)
    .map((vector, i) => ({ i, score: similarity(query.embeddings[0], vector) }))
    .sort((a, b) => b.score - a.score);
  for (const { i, score } of ranked.slice(0, 3)) console.log(`${score.toFixed(3)}  ${texts[i]}`);

  assert.equal(vectors.length, texts.length, 'one vector per text');
  for (const vector of vectors) {
    assert.ok(vector instanceof Float32Array);
    assert.equal(vector.length, options.dimensions);
    assert.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-3, 'unit length');
  }
  assert.equal(query.encoding, 'base64', 'base64 on the wire unless encodingFormat: "float" is asked for');
  assert.equal(query.dimensions, options.dimensions);
  if (!live) {
    assert.deepEqual(vectors[9_999], vectors[0], 'the same text, the same vector');
    assert.notDeepEqual(vectors[1], vectors[0]);
    assert.ok(elapsed < 10, `10,000 texts took ${elapsed.toFixed(2)}s`);
  }
} finally {
  await v.close();
}
