// Costs and budgets: costUsd on values, outcomes and stats; maxCostUsd sent as max_cost_usd.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { BudgetExceeded, HTTPError, chat } from '../src/index.js';
import { batchParams, batchStatsFromWire, outcomeFromWire, resultsFromWire } from '../src/convert.js';
import { binary, mockItem, mockVolley, repoRoot } from './helpers.mjs';

const v = mockVolley();
after(() => v.close());

test('a mock success costs nothing: on the value, the outcome and the stats', async () => {
  const results = await v.gather([mockItem('a'), mockItem('b', { fail: 'http', status: 400 })], { returnExceptions: true });
  assert.equal(results[0].costUsd, 0);
  assert.ok(results[1] instanceof HTTPError);
  assert.equal(results.outcomes[0].costUsd, 0);
  assert.equal(results.outcomes[1].costUsd, undefined);
  assert.equal(results.stats.costUsd, 0);
  assert.equal(results.stats.costUnknown, 0);
  assert.equal(results.stats.budgetExceeded, 0);
  const outcomes = [];
  for await (const outcome of v.asCompleted([mockItem('c')])) outcomes.push(outcome);
  assert.equal(outcomes[0].costUsd, 0);
  assert.equal(outcomes[0].value.costUsd, 0);
});

test('a zero budget on the free mock still succeeds', async () => {
  const results = await v.gather([mockItem('a'), mockItem('b')], { maxCostUsd: 0 });
  assert.deepEqual(results.map((r) => r.text), ['Mock reply to: a', 'Mock reply to: b']);
  assert.equal(results.stats.succeeded, 2);
  assert.equal(results.stats.budgetExceeded, 0);
  const outcomes = [];
  for await (const outcome of v.asCompleted([mockItem('c')], { maxCostUsd: 0 })) outcomes.push(outcome);
  assert.ok(outcomes[0].ok);
  assert.equal(outcomes[0].costUsd, 0);
});

test('maxCostUsd reaches the wire as max_cost_usd (0 included, absent when not given)', () => {
  const item = { provider: 'mock', request: { model: 'm', messages: [] } };
  assert.equal(batchParams([item], { maxCostUsd: 2.5 }, undefined).max_cost_usd, 2.5);
  assert.equal(batchParams([item], { maxCostUsd: 0 }, undefined).max_cost_usd, 0);
  assert.ok(!('max_cost_usd' in batchParams([item], {}, undefined)));
  assert.throws(() => batchParams([item], { max_cost_usd: 1 }, undefined), /unknown batch option "max_cost_usd"/);
});

test('costs from the wire: a price, no price (null), absent; stats; budget_exceeded', () => {
  const priced = outcomeFromWire({ index: 0, ok: true, value: { text: 'hi' }, cost_usd: 0.00042 });
  assert.equal(priced.costUsd, 0.00042);
  assert.equal(priced.value.costUsd, 0.00042);
  const unpriced = outcomeFromWire({ index: 0, ok: true, value: { text: 'hi' }, cost_usd: null });
  assert.equal(unpriced.costUsd, null);
  assert.equal(unpriced.value.costUsd, null);
  const absent = outcomeFromWire({ index: 0, ok: true, value: { text: 'hi' } });
  assert.equal(absent.costUsd, undefined);
  assert.ok(!('costUsd' in absent.value));
  const wire = [{ index: 0, ok: false, attempts: 0, error: { kind: 'budget_exceeded', message: 'over budget', retryable: false } }];
  const results = resultsFromWire(wire, { succeeded: 0, failed: 1, cost_usd: 1.25, cost_unknown: 1, budget_exceeded: 1 });
  assert.ok(results[0] instanceof BudgetExceeded);
  assert.equal(results.outcomes[0].costUsd, undefined);
  assert.deepEqual(
    [results.stats.costUsd, results.stats.costUnknown, results.stats.budgetExceeded],
    [1.25, 1, 1],
  );
  assert.deepEqual([batchStatsFromWire(undefined).costUsd, batchStatsFromWire({}).budgetExceeded], [0, 0]);
});

// -- a priced model on an OpenAI-shaped server (volley-fake-llm), not the free mock -------------

const fakeLLM = [process.env.VOLLEY_FAKE_LLM, join(dirname(binary), 'volley-fake-llm'), join(repoRoot, '.build', 'debug', 'volley-fake-llm')].find(
  (path) => path && existsSync(path),
);
const needsFakeLLM = { skip: !fakeLLM && 'no volley-fake-llm' };

const PRICE = 1000; // dollars per million tokens, input and output alike: $0.001 a token
const MAX_TOKENS = 1000;
const BATCH = 8;

/** Starts volley-fake-llm; resolves with its base URL (no `/v1`) and the process. */
async function startFakeLLM() {
  const server = spawn(fakeLLM, ['--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: server.stdout }).once('line', resolve);
    server.once('exit', (code) => reject(new Error(`volley-fake-llm exited with ${code}`)));
  });
  return { server, base: JSON.parse(line).base_url };
}

/** Model requests the fake server has answered (its own /fake/stats reads are not counted). */
async function chatRequests(base) {
  const response = await fetch(`${base}/fake/stats`);
  return (await response.json()).requests;
}

/** A Volley whose provider `fake` prices its model `priced-model` itself. */
function pricedVolley(base) {
  return mockVolley({
    providers: { fake: { kind: 'openai', baseUrl: `${base}/v1`, apiKey: 'sk-test', models: { 'priced-model': { price: { input: PRICE, output: PRICE } } } } },
    defaultProvider: 'fake',
  });
}

const dollars = (usage) => ((usage.inputTokens + usage.outputTokens) * PRICE) / 1e6;
const close = (a, b) => Math.abs(a - b) <= 1e-9 + 1e-9 * Math.abs(b);

test('call() and a stream on a priced model cost their usage at the price (volley-fake-llm)', needsFakeLLM, async () => {
  const { server, base } = await startFakeLLM();
  const w = pricedVolley(base);
  try {
    const value = await w.call(chat('hello there', { model: 'priced-model', maxTokens: 10 }));
    assert.ok(value.usage.inputTokens > 0 && value.usage.outputTokens > 0);
    assert.equal(typeof value.costUsd, 'number');
    assert.ok(value.costUsd > 0);
    assert.ok(close(value.costUsd, dollars(value.usage)), `${value.costUsd} != ${dollars(value.usage)}`);

    const s = w.stream('hello stream', { model: 'priced-model', maxTokens: 10 });
    for await (const chunk of s) assert.equal(typeof chunk.text, 'string');
    const streamed = await s.result;
    assert.equal(typeof streamed.ttftMs, 'number');
    assert.ok(close(streamed.costUsd, dollars(streamed.usage)), `${streamed.costUsd} != ${dollars(streamed.usage)}`);

    const unpriced = await w.call(chat('hello', { model: 'nobody-priced-this', maxTokens: 5 }));
    assert.equal(unpriced.costUsd, null);
    assert.ok(unpriced.usage.outputTokens > 0);
  } finally {
    await w.close();
    server.kill();
  }
});

/** Items on the priced model; each reply is held 300 ms, so every item reserves its worst case before any answers. */
const budgetItems = (tag) =>
  Array.from({ length: BATCH }, (_, i) =>
    chat(`${tag} ${i}`, { model: 'priced-model', maxTokens: MAX_TOKENS, key: `${tag}${i}`, extraBody: { fake: { latency_ms: 300 } } }),
  );

/** Room for three worst cases (input estimate, about characters / 4, plus maxTokens), not four. */
const budgetForThree = (tag) => 3.5 * (((`${tag} 0`.length / 4) + MAX_TOKENS) * PRICE) / 1e6;

/** Three items fit and succeed with a cost; the rest are BudgetExceeded, never sent. `stats`: the batch's. */
function checkBudget(outcomes, stats, sent, budget) {
  assert.deepEqual(outcomes.map((o) => o.index).sort((a, b) => a - b), [...Array(BATCH).keys()]);
  const succeeded = outcomes.filter((o) => o.ok);
  const refused = outcomes.filter((o) => !o.ok);
  assert.equal(succeeded.length, 3, JSON.stringify(outcomes.map((o) => [o.ok, o.error?.message])));
  assert.equal(refused.length, BATCH - 3);
  for (const o of succeeded) {
    assert.ok(o.costUsd > 0);
    assert.ok(close(o.costUsd, dollars(o.value.usage)));
    assert.equal(o.value.costUsd, o.costUsd);
  }
  for (const o of refused) {
    assert.ok(o.error instanceof BudgetExceeded, String(o.error));
    assert.equal(o.error.kind, 'budget_exceeded');
    assert.equal(o.error.retryable, false);
    assert.equal(o.attempts, 0);
    assert.equal(o.costUsd, undefined);
    assert.match(o.error.message, /not sent/);
  }
  const spent = succeeded.reduce((sum, o) => sum + o.costUsd, 0);
  assert.ok(spent > 0 && spent <= budget, `spent ${spent} of ${budget}`);
  assert.ok(close(stats.costUsd, spent));
  assert.equal(stats.costUnknown, 0);
  assert.equal(stats.succeeded, succeeded.length);
  assert.equal(stats.failed, refused.length);
  assert.equal(stats.budgetExceeded, refused.length);
  assert.equal(sent, succeeded.length, 'a refused item must not reach the server');
}

test('a budget sends only what it can afford: gather and asCompleted on a priced model (volley-fake-llm)', needsFakeLLM, async () => {
  const { server, base } = await startFakeLLM();
  const w = pricedVolley(base);
  try {
    let before = await chatRequests(base);
    let budget = budgetForThree('gather');
    const results = await w.gather(budgetItems('gather'), { maxCostUsd: budget, concurrency: BATCH, returnExceptions: true });
    checkBudget(results.outcomes, results.stats, (await chatRequests(base)) - before, budget);
    assert.deepEqual(results.map((r) => r instanceof BudgetExceeded), results.outcomes.map((o) => !o.ok));

    before = await chatRequests(base);
    budget = budgetForThree('each');
    const outcomes = [];
    const run = w.asCompleted(budgetItems('each'), { maxCostUsd: budget, concurrency: BATCH });
    for await (const outcome of run) outcomes.push(outcome);
    checkBudget(outcomes, run.stats, (await chatRequests(base)) - before, budget);
  } finally {
    await w.close();
    server.kill();
  }
});

// -- cached input tokens -----------------------------------------------------------------------

const CACHED_PRICE = 100; // dollars per million cached input tokens: a tenth of PRICE

const cachedDollars = (usage) => {
  const cached = usage.cachedInputTokens ?? 0;
  return ((usage.inputTokens - cached) * PRICE + cached * CACHED_PRICE + usage.outputTokens * PRICE) / 1e6;
};

/** `priced-model` with a price of its own for cached input tokens. */
function cachePricedVolley(base) {
  return mockVolley({
    providers: {
      fake: {
        kind: 'openai',
        baseUrl: `${base}/v1`,
        apiKey: 'sk-test',
        models: { 'priced-model': { price: { input: PRICE, output: PRICE, cachedInput: CACHED_PRICE } } },
      },
    },
    defaultProvider: 'fake',
  });
}

/** volley-fake-llm reports `cached_tokens` of the prompt as read from its cache. */
const cached = (prompt, tokens, options = {}) =>
  chat(prompt, { model: 'priced-model', maxTokens: 10, extraBody: { fake: { cached_tokens: tokens } }, ...options });

test('cached input tokens: usage.cachedInputTokens, and costUsd at the cached price (volley-fake-llm)', needsFakeLLM, async () => {
  const { server, base } = await startFakeLLM();
  const w = cachePricedVolley(base);
  try {
    const value = await w.call(cached('hello there my good friend', 3));
    assert.equal(value.usage.cachedInputTokens, 3);
    assert.ok(value.usage.inputTokens > 3 && value.usage.outputTokens > 0);
    assert.ok(close(value.costUsd, cachedDollars(value.usage)), `${value.costUsd} != ${cachedDollars(value.usage)}`);
    assert.ok(value.costUsd < dollars(value.usage), 'the cached tokens cost less than input');

    const results = await w.gather([cached('one two three four', 2, { key: 'cached' }), cached('one two three four', 0, { key: 'none' })]);
    assert.equal(results[0].usage.cachedInputTokens, 2);
    assert.ok(!('cachedInputTokens' in results[1].usage), 'absent when none came from the cache');
    for (const [i, value] of results.entries()) {
      assert.ok(close(value.costUsd, cachedDollars(value.usage)));
      assert.equal(results.outcomes[i].costUsd, value.costUsd);
    }
    assert.ok(results[0].costUsd < results[1].costUsd);
    assert.ok(close(results.stats.costUsd, results[0].costUsd + results[1].costUsd));

    const run = w.asCompleted([cached('as completed here', 1)]);
    const outcomes = [];
    for await (const outcome of run) outcomes.push(outcome);
    assert.equal(outcomes[0].value.usage.cachedInputTokens, 1);
    assert.ok(close(outcomes[0].costUsd, cachedDollars(outcomes[0].value.usage)));
    assert.ok(close(run.stats.costUsd, outcomes[0].costUsd));

    const s = w.stream('hello stream of words', { model: 'priced-model', maxTokens: 10, extraBody: { fake: { cached_tokens: 2 } } });
    for await (const chunk of s) assert.equal(typeof chunk.text, 'string');
    const streamed = await s.result;
    assert.equal(streamed.usage.cachedInputTokens, 2);
    assert.ok(close(streamed.costUsd, cachedDollars(streamed.usage)));

    const { usage } = await w.stats();
    assert.equal(usage['priced-model'].cachedInputTokens, 3 + 2 + 1 + 2);
  } finally {
    await w.close();
    server.kill();
  }
});

// -- a provider's budget ---------------------------------------------------------------------------

/**
 * Items on the priced model: each reply is held 300 ms (so every item of a batch reserves its
 * worst case before any answers) and writes all of maxTokens (so each costs its worst case, near
 * enough).
 */
const providerBudgetItems = (tag, count) =>
  Array.from({ length: count }, (_, i) =>
    chat(`${tag} ${i}`, {
      model: 'priced-model',
      maxTokens: MAX_TOKENS,
      key: `${tag}${i}`,
      extraBody: { fake: { latency_ms: 300, output_tokens: MAX_TOKENS } },
    }),
  );

test("a provider's budget holds across batches, and stats() shows it (volley-fake-llm)", needsFakeLLM, async () => {
  const { server, base } = await startFakeLLM();
  const worst = ((`second 0`.length / 4 + MAX_TOKENS) * PRICE) / 1e6;
  const budget = 5.5 * worst;
  const w = mockVolley({
    providers: {
      fake: {
        kind: 'openai',
        baseUrl: `${base}/v1`,
        apiKey: 'sk-test',
        models: { 'priced-model': { price: { input: PRICE, output: PRICE } } },
        budget: { maxCostUsd: budget, per: 'day' },
      },
    },
    defaultProvider: 'fake',
  });
  try {
    // No maxCostUsd on the batches: only the provider's budget holds them. Three of five and a half fit.
    const first = await w.gather(providerBudgetItems('first', 3), { concurrency: 3 });
    assert.equal(first.stats.succeeded, 3);
    assert.equal(first.stats.budgetExceeded, 0);
    for (const value of first) {
      assert.ok(value.costUsd > 0.9 * worst, `${value.costUsd}`);
      assert.ok(close(value.costUsd, dollars(value.usage)));
    }

    // The second gets the rest, two worst cases; its other two are refused, unsent.
    const before = await chatRequests(base);
    const second = await w.gather(providerBudgetItems('second', 4), { concurrency: 4, returnExceptions: true });
    const sent = (await chatRequests(base)) - before;
    const succeeded = second.outcomes.filter((o) => o.ok);
    const refused = second.outcomes.filter((o) => !o.ok);
    assert.equal(succeeded.length, 2, JSON.stringify(second.outcomes.map((o) => [o.ok, o.error?.message])));
    assert.equal(refused.length, 2);
    for (const o of refused) {
      assert.ok(o.error instanceof BudgetExceeded, String(o.error));
      assert.ok(o.error.message.startsWith('providers.fake.budget:'), o.error.message);
      assert.match(o.error.message, /not sent/);
      assert.equal(o.attempts, 0);
      assert.equal(o.costUsd, undefined);
    }
    assert.equal(sent, 2, 'a refused item must not reach the server');
    assert.equal(second.stats.budgetExceeded, 2);
    assert.equal(second.stats.succeeded, 2);
    assert.ok(close(second.stats.costUsd, succeeded.reduce((sum, o) => sum + o.costUsd, 0)));

    const spent = first.stats.costUsd + second.stats.costUsd;
    assert.ok(spent > 4.5 * worst && spent <= budget, `spent ${spent} of ${budget}`);

    // Nothing is left for one more: refused at once, by asCompleted and by gather.
    const run = w.asCompleted(providerBudgetItems('third', 1));
    for await (const outcome of run) assert.ok(outcome.error instanceof BudgetExceeded, String(outcome.error));
    assert.equal(run.stats.budgetExceeded, 1);
    assert.equal(run.stats.costUsd, 0);
    await assert.rejects(w.gather(providerBudgetItems('fourth', 1)), (error) => error instanceof BudgetExceeded && error.attempts === 0);

    const stats = await w.stats();
    const shown = stats.providers.fake.budget;
    assert.ok(close(shown.maxCostUsd, budget));
    assert.equal(shown.per, 'day');
    assert.ok(Math.abs(shown.spentUsd - spent) < 1e-4, `spentUsd ${shown.spentUsd} != ${spent}`);
    assert.equal(shown.reservedUsd, 0);
    assert.equal(stats.providers.mock.budget, undefined, 'only a provider with a budget shows one');
  } finally {
    await w.close();
    server.kill();
  }
});
