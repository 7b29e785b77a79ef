// asCompleted: the article's FAQ suggests asyncio.as_completed() to handle results as they
// arrive. Volley streams each outcome the moment it is known; an outcome says which input it
// belongs to (index, key), whether it worked, the value or the typed error, attempts and
// latency. Leaving the loop early cancels what is still running.
//
// Runs offline on Volley's built-in mock provider (calls scripted to take 600, 100 and 300
// ms), or on OpenAI when OPENAI_API_KEY is set. Checks its own output, so the tests run it.

import assert from 'node:assert/strict';
import { Volley, chat } from 'volley';

const live = Boolean(process.env.OPENAI_API_KEY);
const v = new Volley({ defaultProvider: live ? 'openai' : 'mock', defaultModel: 'gpt-4o-mini' });
const mock = (script) => (live ? {} : { mock: script });

const questions = {
  long: 'Write a haiku about distributed systems.',
  short: 'Reply with one word: yes or no?',
  medium: 'Name three sorting algorithms.',
};
const latency = { long: 600, short: 100, medium: 300 };

try {
  const items = Object.entries(questions).map(([key, question]) => chat(question, { key, ...mock({ latency_ms: latency[key] }) }));
  const arrived = [];
  for await (const outcome of v.asCompleted(items)) {
    arrived.push(outcome.key);
    if (outcome.ok) console.log(`${outcome.key} (#${outcome.index}, ${Math.round(outcome.latencyMs)} ms): ${outcome.value.text.slice(0, 80)}`);
    else console.log(`${outcome.key} failed: ${outcome.error.message}`);
  }
  assert.deepEqual([...arrived].sort(), ['long', 'medium', 'short'], 'every call exactly once');
  if (!live) assert.deepEqual(arrived, ['short', 'medium', 'long'], 'in the order they finished');

  // The first good answer wins; breaking out cancels the rest.
  const racers = [1, 2, 3].map((n) => chat(`Answer ${n}: what is the capital of France?`, mock({ latency_ms: n * 200 })));
  let winner;
  for await (const outcome of v.asCompleted(racers)) {
    if (outcome.ok) {
      winner = outcome;
      break;
    }
  }
  const stats = await v.stats();
  console.log(`winner: #${winner.index}; cancelled: ${stats.cancelled}`);
  assert.ok(winner);
  if (!live) {
    assert.equal(winner.index, 0);
    assert.equal(stats.cancelled, 2, 'the two slower racers were cancelled');
  }
} finally {
  await v.close();
}
