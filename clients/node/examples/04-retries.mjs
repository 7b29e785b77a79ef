// Retries by configuration instead of a backoff loop: the article's `call_with_retry` caught
// 429s, 5xx and timeouts and slept retry_after * 2**attempt. Volley retries 408, 409, 429, 5xx,
// 529, connection errors and timeouts, obeys Retry-After, backs off with jitter, never retries
// a 400 or an exhausted quota, and keeps every wait inside the item's and the batch's timeout.
// The policy is per provider; `maxRetries` can be set per call too.
//
// Runs offline on Volley's built-in mock provider (scripted to answer 429 twice, then 503 once,
// then to fail with a 400), or on OpenAI when OPENAI_API_KEY is set (where the last call names a
// model that does not exist, a 404). Checks its own output, so the tests run it.

import assert from 'node:assert/strict';
import { HTTPError, Volley, chat } from 'volley';

const live = Boolean(process.env.OPENAI_API_KEY);
const provider = live ? 'openai' : 'mock';
const retry = { maxRetries: 5, initialDelay: 0.2, maxDelay: 8, maxRetryAfter: 60 };
const v = new Volley({
  providers: { [provider]: { kind: provider, retry } },
  defaultProvider: provider,
  defaultModel: 'gpt-4o-mini',
});

/** The mock provider's script for one call; on OpenAI the calls are plain. */
const mock = (script) => (live ? {} : { mock: script });

try {
  const results = await v.gather(
    [
      chat('Rate limited twice, then fine.', mock({ fail: 'rate_limited', fail_attempts: 2, retry_after: 0.1 })),
      chat('Overloaded once, then fine.', mock({ fail: 'overloaded', fail_attempts: 1 })),
      chat('A bad request is never retried.', live ? { model: 'no-such-model' } : mock({ fail: 'http', status: 400 })),
    ],
    { returnExceptions: true },
  );
  const stats = await v.stats();
  console.log(results.map((r) => (r instanceof Error ? `${r.name} after ${r.attempts} attempt(s)` : r.text)));
  console.log(`retries: ${stats.retries}, 429s seen: ${stats.rateLimited}`);

  assert.ok(results[0].text && results[1].text, 'the retried calls succeeded');
  assert.ok(results[2] instanceof HTTPError);
  assert.equal(results[2].attempts, 1, 'a 4xx is final');
  if (!live) {
    assert.equal(stats.retries, 3, 'two after the 429s, one after the 503');
    assert.equal(stats.rateLimited, 2);
  }
} finally {
  await v.close();
}
