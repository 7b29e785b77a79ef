// Costs and budgets: costUsd on values, outcomes and stats; maxCostUsd sent as max_cost_usd.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { BudgetExceeded, HTTPError } from '../src/index.js';
import { batchParams, batchStatsFromWire, outcomeFromWire, resultsFromWire } from '../src/convert.js';
import { mockItem, mockVolley } from './helpers.mjs';

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
