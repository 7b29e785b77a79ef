// Rate limiting by configuration instead of chunking: the article's `chunked_parallel_calls`
// sent 5 prompts, slept a second, sent 5 more. With Volley the provider's limits are
// configuration; one gather holds every prompt and the sidecar keeps at most 5 in flight,
// starting the next as soon as one finishes (no idle second between chunks), and backs the
// whole provider off when a 429 arrives. `rpm` and `tpm` limits go in the same place.
//
// Runs offline on Volley's built-in mock provider (each call takes 200 ms), or on OpenAI when
// OPENAI_API_KEY is set. Checks its own output, so the tests run it.

import assert from 'node:assert/strict';
import { Volley } from 'volley';

const live = Boolean(process.env.OPENAI_API_KEY);
const provider = live ? 'openai' : 'mock';
const limits = { concurrency: 5, rpm: 500 };
const v = new Volley({
  providers: { [provider]: live ? { kind: 'openai', limits } : { kind: 'mock', latencyMs: 200, limits } },
  defaultProvider: provider,
  defaultModel: 'gpt-4o-mini',
});

const prompts = Array.from({ length: 20 }, (_, i) => `Give me one fun fact about the number ${i}.`);

try {
  // Watch the sidecar's limiter while the batch runs (only to check the example).
  let peakInFlight = 0;
  const watch = setInterval(() => {
    v.stats().then(({ limiters }) => {
      for (const limiter of Object.values(limiters)) peakInFlight = Math.max(peakInFlight, limiter.inFlight);
    }, () => {});
  }, 20);

  const start = performance.now();
  const results = await v.gather(prompts, {
    returnExceptions: true,
    onProgress: ({ done, total }) => console.log(`progress: ${done}/${total}`),
  });
  const elapsed = (performance.now() - start) / 1000;
  clearInterval(watch);

  const failures = results.filter((r) => r instanceof Error);
  console.log(`${results.length - failures.length} succeeded, ${failures.length} failed in ${elapsed.toFixed(2)}s; ` +
    `at most ${peakInFlight} in flight`);

  assert.equal(failures.length, 0);
  assert.ok(peakInFlight <= 5, `the limit held (${peakInFlight})`);
  assert.equal((await v.stats()).providers[provider].limits.concurrency, 5);
  if (!live) {
    assert.ok(elapsed >= 0.75, `20 calls of 200 ms, 5 at a time, take at least 0.8 s (${elapsed.toFixed(2)}s)`);
    assert.ok(elapsed < 3, `and far less than the chunked version's 4.8 s (${elapsed.toFixed(2)}s)`);
  }
} finally {
  await v.close();
}
