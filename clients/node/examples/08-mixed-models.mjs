// Different models and parameters per call: the article's FAQ passes them to each coroutine.
// With Volley each item carries its own model, parameters, timeout and even provider, in one
// batch; limits are kept per (provider, model).
//
// Runs offline on Volley's built-in mock provider (which echoes the model it was asked for), or
// on OpenAI when OPENAI_API_KEY is set. Checks its own output, so the tests run it.

import assert from 'node:assert/strict';
import { Volley, chat } from 'volley';

const live = Boolean(process.env.OPENAI_API_KEY);
const v = new Volley({ defaultProvider: live ? 'openai' : 'mock' });

const items = [
  chat('Draft a product announcement for our new API.', { model: 'gpt-4o', temperature: 0.8, maxTokens: 400 }),
  chat('Classify the sentiment of: "I love this!"', { model: 'gpt-4o-mini', temperature: 0, maxTokens: 5 }),
  chat('Extract the city from: "Shipped from Lyon on Monday."', {
    model: 'gpt-4o-mini',
    system: 'Answer with the city name only.',
    maxTokens: 10,
  }),
];

try {
  const results = await v.gather(items);
  results.forEach((result, i) => console.log(`${items[i].request.model} → ${result.model}: ${result.text.slice(0, 80)}`));

  results.forEach((result, i) => {
    assert.ok(result.text.length > 0);
    assert.ok(result.model.startsWith(items[i].request.model), `answered by ${items[i].request.model}`);
  });
  const { limiters } = await v.stats();
  console.log('limiters:', Object.keys(limiters));
  const provider = live ? 'openai' : 'mock';
  assert.ok(`${provider}/gpt-4o` in limiters && `${provider}/gpt-4o-mini` in limiters, 'one limiter per model');
} finally {
  await v.close();
}
