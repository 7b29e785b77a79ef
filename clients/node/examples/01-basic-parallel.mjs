// Basic parallel LLM calls: the article's `parallel_llm_calls` (httpx.AsyncClient +
// asyncio.gather) on Volley. One sidecar holds the connection pool; there is no client to share
// and no coroutine per prompt.
//
// Runs offline on Volley's built-in mock provider (each call takes 500 ms), or on OpenAI when
// OPENAI_API_KEY is set. Checks its own output, so the tests run it: node examples/01-basic-parallel.mjs

import assert from 'node:assert/strict';
import { Volley, chat } from 'volley';

const live = Boolean(process.env.OPENAI_API_KEY);
const v = new Volley({
  defaultProvider: live ? 'openai' : 'mock',
  defaultModel: 'gpt-4o-mini',
  providers: live ? undefined : { mock: { kind: 'mock', latencyMs: 500 } },
});

const prompts = [
  'Summarize the key benefits of microservices architecture.',
  'List 5 common Python antipatterns.',
  'Explain the CAP theorem in 3 sentences.',
  'What is the difference between OLTP and OLAP?',
];

try {
  const start = performance.now();
  const results = await v.gather(prompts.map((prompt) => chat(prompt, { maxTokens: 256 })));
  const elapsed = (performance.now() - start) / 1000;

  prompts.forEach((prompt, i) => {
    console.log(`Q: ${prompt.slice(0, 50)}...`);
    console.log(`A: ${results[i].text.slice(0, 100)}...\n`);
  });
  console.log(`Total time: ${elapsed.toFixed(2)}s for ${prompts.length} calls`);

  assert.equal(results.length, prompts.length);
  for (const result of results) assert.ok(result.text.length > 0);
  if (!live) {
    prompts.forEach((prompt, i) => assert.equal(results[i].text, `Mock reply to: ${prompt}`));
    assert.ok(elapsed < 1.5, `four 500 ms calls ran in parallel (${elapsed.toFixed(2)}s)`);
  }
} finally {
  await v.close();
}
