// Per-call timeouts: the article's FAQ wraps slow calls in asyncio.wait_for(coro, timeout=5.0).
// With Volley a timeout is a field of the call (seconds, retries included), a whole batch can
// have one too, and any call takes an AbortSignal. A call that runs out of time is a Timeout in
// its slot; the others are not held up by it.
//
// Runs offline on Volley's built-in mock provider (one call is scripted to take 30 s), or on
// OpenAI when OPENAI_API_KEY is set (where that call gets a 10 ms timeout no real call can
// meet). Checks its own output, so the tests run it.

import assert from 'node:assert/strict';
import { Timeout, Volley, chat } from 'volley';

const live = Boolean(process.env.OPENAI_API_KEY);
const v = new Volley({ defaultProvider: live ? 'openai' : 'mock', defaultModel: 'gpt-4o-mini' });

try {
  const start = performance.now();
  const results = await v.gather(
    [
      chat('A quick question: what is 2 + 2?', { timeout: 20 }),
      chat('A call that takes too long.', live ? { timeout: 0.01 } : { timeout: 0.5, mock: { latency_ms: 30_000 } }),
      chat('Another quick one: name a prime number.', { timeout: 20 }),
    ],
    { returnExceptions: true, timeout: 60 }, // the whole batch: 60 s at most
  );
  const elapsed = (performance.now() - start) / 1000;
  console.log(results.map((r) => (r instanceof Error ? `${r.name}: ${r.message}` : r.text)));
  console.log(`done in ${elapsed.toFixed(2)}s`);

  assert.ok(results[1] instanceof Timeout);
  assert.ok(results[0].text && results[2].text);
  if (!live) assert.ok(elapsed < 5, 'nobody waited for the 30 s call');

  // A deadline for one awaited call, from the caller's side: AbortSignal.timeout.
  try {
    await v.call(chat('Slow again.', live ? {} : { mock: { latency_ms: 30_000 } }), { signal: AbortSignal.timeout(live ? 10 : 300) });
    assert.fail('the call should have been aborted');
  } catch (error) {
    console.log(`call: ${error.name} (${error.cause.name})`);
    assert.equal(error.name, 'AbortError');
  }
} finally {
  await v.close();
}
