// Error handling with returnExceptions: the article's `safe_parallel_calls`. A failed call's
// slot holds a typed error (HTTPError, RateLimited, Timeout, ...) instead of discarding the
// other results; without returnExceptions, gather rejects and the error still carries them all.
//
// Runs offline on Volley's built-in mock provider (the second call is scripted to fail with a
// 404), or on OpenAI when OPENAI_API_KEY is set (the second call names a model that does not
// exist). Checks its own output, so the tests run it.

import assert from 'node:assert/strict';
import { HTTPError, Volley, VolleyError, chat } from 'volley';

const live = Boolean(process.env.OPENAI_API_KEY);
const v = new Volley({ defaultProvider: live ? 'openai' : 'mock', defaultModel: 'gpt-4o-mini' });

const items = [
  chat('Summarize the key benefits of microservices architecture.'),
  chat('This call fails.', live ? { model: 'no-such-model' } : { mock: { fail: 'http', status: 404 } }),
  chat('Explain the CAP theorem in 3 sentences.'),
];

try {
  const results = await v.gather(items, { returnExceptions: true });
  const processed = results.map((result, i) => {
    if (result instanceof VolleyError) {
      console.log(`Prompt ${i} failed: ${result.name} (${result.status}): ${result.message}`);
      return `[ERROR] ${result.name}`;
    }
    return result.text;
  });
  console.log(processed);

  assert.equal(processed[1], '[ERROR] HTTPError');
  assert.ok(results[1] instanceof HTTPError);
  assert.equal(results[1].status, 404);
  assert.equal(results[1].retryable, false, 'a 404 is not retried');
  assert.ok(processed[0].length > 0 && processed[2].length > 0, 'the other calls kept their results');

  // The default (returnExceptions: false) rejects with the first failure, as soon as it
  // happens, and the sidecar cancels the rest (like Promise.all, but nothing keeps running);
  // nothing is lost, every slot is on the error (Cancelled for the items it stopped).
  try {
    await v.gather(items);
    assert.fail('gather should have rejected');
  } catch (error) {
    assert.ok(error instanceof HTTPError);
    console.log(`gather rejected: item ${error.index} failed with HTTP ${error.status}; ` +
      `${error.results.filter((r) => !(r instanceof Error)).length} results kept on error.results`);
    assert.equal(error.index, 1);
    assert.equal(error.results.length, 3);
    assert.equal(error.results.stats.failed, 1);
  }
} finally {
  await v.close();
}
