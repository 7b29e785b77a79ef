// The camelCase API ↔ snake_case wire conversions.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ITEM_FIELDS, REQUEST_PARAMS, Volley, chat } from '../src/index.js';
import { itemToWire, outcomeFromWire, providersToWire, statsFromWire, valueFromWire } from '../src/convert.js';
import { BudgetExceeded, HTTPError, RateLimited, SharedLimitsUnavailable, VolleyError, itemError } from '../src/errors.js';

test('chat builds a protocol item; request options go into the body in snake_case', () => {
  assert.deepEqual(
    chat('Hi', {
      model: 'gpt-4o-mini',
      system: 'Be brief.',
      key: 'k1',
      provider: 'openai',
      timeout: 5,
      maxRetries: 1,
      maxTokens: 256,
      temperature: 0,
      responseFormat: { type: 'json_object' },
      mock: { latencyMs: 5, failAttempts: 1 },
      seed: undefined,
    }),
    {
      key: 'k1',
      provider: 'openai',
      request: {
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
        ],
        max_tokens: 256,
        temperature: 0,
        response_format: { type: 'json_object' },
        mock: { latency_ms: 5, fail_attempts: 1 },
      },
      timeout: 5,
      max_retries: 1,
    },
  );
});

test('chat refuses options it does not know, naming the closest; extraBody passes any body field', () => {
  assert.throws(() => chat('x', { timout: 0.1 }), { name: 'TypeError', message: /unknown option "timout" \(did you mean "timeout"\?\)/ });
  assert.throws(() => chat('x', { maxToken: 5 }), { name: 'TypeError', message: /"maxToken" \(did you mean "maxTokens"\?\).*extraBody/ });
  assert.throws(() => chat('x', { max_retires: 1 }), { message: /did you mean "maxRetries"/ });
  assert.throws(() => chat('x', { someNewParam: 1 }), { name: 'TypeError', message: /extraBody/ });
  assert.equal(chat('x', { stream: true }).stream, true, 'stream is an item field (token streaming)');
  assert.equal(chat('x', { stream: false }).request.stream, undefined);
  assert.throws(() => chat('x', { extraBody: 'nope' }), TypeError);
  assert.deepEqual(chat('x', { timeout: 0.1, topP: 0.5, stop_sequences: ['a'], extraBody: { someNewParam: 1, topK: null } }), {
    request: { messages: [{ role: 'user', content: 'x' }], top_p: 0.5, stop_sequences: ['a'], someNewParam: 1, topK: null },
    timeout: 0.1,
  });
  assert.deepEqual(ITEM_FIELDS, ['key', 'provider', 'timeout', 'max_retries', 'format', 'raw', 'stream', 'endpoint', 'path']);
  assert.ok(REQUEST_PARAMS.has('max_tokens') && REQUEST_PARAMS.has('mock') && !REQUEST_PARAMS.has('timeout'));
});

test('item objects with unknown fields are refused; so are unknown method and constructor options', async () => {
  assert.throws(() => itemToWire({ request: { messages: [] }, timout: 1 }, undefined), {
    name: 'TypeError',
    message: /no field "timout" \(did you mean "timeout"\?\)/,
  });
  assert.throws(() => itemToWire({ request: { messages: [] }, maxTokens: 1 }, undefined), /inside request/);
  assert.throws(() => itemToWire({ request: { input: 'x' }, endpiont: 'embeddings' }, undefined), /no field "endpiont" \(did you mean "endpoint"\?\)/);
  assert.deepEqual(itemToWire({ endpoint: 'embeddings', request: { input: 'x' } }, 'chat-model'), { endpoint: 'embeddings', request: { input: 'x' } });
  assert.deepEqual(itemToWire({ path: '/v1/x', request: {} }, 'chat-model'), { path: '/v1/x', request: {} });
  assert.equal(itemToWire({ endpoint: 'responses', request: { input: 'x' } }, 'chat-model').request.model, 'chat-model');
  assert.throws(() => new Volley({ defaultModle: 'm' }), { name: 'TypeError', message: /"defaultModle" \(did you mean "defaultModel"\?\)/ });
  const v = new Volley({ binary: '/nonexistent/volley' });
  await assert.rejects(v.call('x', { timeout: 1 }), { name: 'TypeError', message: /call\(\): unknown option "timeout"/ });
  await assert.rejects(v.gather(['x'], { timout: 1 }), { name: 'TypeError', message: /did you mean "timeout"/ });
  await assert.rejects(v.stats({ singal: null }), { message: /did you mean "signal"/ });
  await assert.rejects(v.configure({ default_provider: 'x' }), { message: /did you mean "defaultProvider"/ });
  await assert.rejects(v.close({ mod: 'cancel' }), { message: /did you mean "mode"/ });
  await v.close();
});

test('chat accepts a messages array', () => {
  const messages = [
    { role: 'user', content: 'a' },
    { role: 'assistant', content: 'b' },
    { role: 'user', content: 'c' },
  ];
  assert.deepEqual(chat(messages), { request: { messages } });
});

test('items: strings are chat(), item fields become snake_case, request is untouched', () => {
  assert.deepEqual(itemToWire('hello', undefined), { request: { messages: [{ role: 'user', content: 'hello' }] } });
  const request = { messages: [], someField: 1 };
  assert.deepEqual(itemToWire({ key: 'x', maxRetries: 2, request }, undefined), { key: 'x', max_retries: 2, request });
  assert.deepEqual(itemToWire({ request }, 'm1').request, { ...request, model: 'm1' });
  assert.equal(itemToWire({ request: { model: 'keep', messages: [] } }, 'm1').request.model, 'keep');
  assert.equal(itemToWire(42, undefined), 42, 'non-objects go as they are, for the sidecar to reject');
});

test('provider config: fields in either case; provider, model and header names untouched', () => {
  assert.deepEqual(
    providersToWire({
      my_gateway: {
        kind: 'openai',
        baseUrl: 'http://x/v1',
        apiKeyEnv: 'GW_KEY',
        retry: { maxRetries: 5, initial_delay: 0.1 },
        headers: { 'X-Team': 'a', someHeader: 'b' },
        models: { 'gpt-4o_mini': { limits: { rpm: 10 } } },
      },
    }),
    {
      my_gateway: {
        kind: 'openai',
        base_url: 'http://x/v1',
        api_key_env: 'GW_KEY',
        retry: { max_retries: 5, initial_delay: 0.1 },
        headers: { 'X-Team': 'a', someHeader: 'b' },
        models: { 'gpt-4o_mini': { limits: { rpm: 10 } } },
      },
    },
  );
});

test('values and outcomes come back in camelCase with typed errors', () => {
  assert.deepEqual(
    valueFromWire({
      text: 't',
      finish_reason: 'stop',
      usage: { input_tokens: 1, output_tokens: 2 },
      tool_calls: [{ function: { name: 'f', arguments: '{}' } }],
      raw: { some_field: 1 },
    }),
    {
      text: 't',
      finishReason: 'stop',
      usage: { inputTokens: 1, outputTokens: 2 },
      toolCalls: [{ function: { name: 'f', arguments: '{}' } }],
      raw: { some_field: 1 },
    },
  );
  const failed = outcomeFromWire({
    index: 4,
    key: 'k',
    provider: 'openai',
    ok: false,
    error: { kind: 'rate_limited', message: 'HTTP 429', status: 429, retryable: true, code: 'rate_limit_exceeded' },
    attempts: 3,
    latency_ms: 5012,
    queued_ms: 0.4,
  });
  assert.equal(failed.ok, false);
  assert.equal(failed.value, undefined);
  assert.ok(failed.error instanceof RateLimited && failed.error instanceof VolleyError);
  assert.deepEqual(
    { ...failed.error },
    { name: 'RateLimited', kind: 'rate_limited', status: 429, retryable: true, providerCode: 'rate_limit_exceeded', attempts: 3, index: 4, key: 'k' },
  );
  assert.equal(failed.error.message, 'HTTP 429');
  assert.equal(failed.latencyMs, 5012);
  assert.equal(failed.queuedMs, 0.4);
  assert.equal(failed.provider, 'openai');
  assert.equal(outcomeFromWire({ index: 0, ok: false, error: { kind: 'http', message: 'x' } }).provider, undefined);
  assert.ok(outcomeFromWire({ index: 0, ok: false, error: { kind: 'http', message: 'x' } }).error instanceof HTTPError);
  const unknown = outcomeFromWire({ index: 0, ok: false, error: { kind: 'something_new', message: 'x' } }).error;
  assert.equal(unknown?.constructor, VolleyError);
  assert.equal(unknown?.kind, 'something_new');
});

test('stats keep map keys (models, limiters, providers) as they are', () => {
  const stats = statsFromWire({
    uptime_ms: 1,
    latency_ms: { p50: 1, p95: 2, p99: 3 },
    usage: { 'gpt-4o_mini': { input_tokens: 1, output_tokens: 2 } },
    limiters: { 'openai/gpt-4o_mini': { in_flight: 1, queued: 2 } },
    providers: { my_gw: { kind: 'openai', api_key_env: 'K', has_key: true, limits: { rpm: 1 } } },
  });
  assert.deepEqual(stats, {
    uptimeMs: 1,
    latencyMs: { p50: 1, p95: 2, p99: 3 },
    usage: { 'gpt-4o_mini': { inputTokens: 1, outputTokens: 2 } },
    limiters: { 'openai/gpt-4o_mini': { inFlight: 1, queued: 2 } },
    providers: { my_gw: { kind: 'openai', apiKeyEnv: 'K', hasKey: true, limits: { rpm: 1 } } },
  });
});

test('a budget_exceeded outcome is a BudgetExceeded error', () => {
  const error = itemError({ kind: 'budget_exceeded', message: 'max_cost_usd' });
  assert.ok(error instanceof BudgetExceeded);
  assert.equal(error.kind, 'budget_exceeded');
});

test('a shared_limits_unavailable outcome is a SharedLimitsUnavailable error', () => {
  const error = itemError({ kind: 'shared_limits_unavailable', message: 'Redis is unavailable' });
  assert.ok(error instanceof SharedLimitsUnavailable);
  assert.ok(error instanceof VolleyError);
  assert.equal(error.kind, 'shared_limits_unavailable');
});

test('provider budget and prices: camelCase fields are sent in snake_case, values as they are', () => {
  assert.deepEqual(
    providersToWire({
      gw: {
        budget: { maxCostUsd: 25, per: 'day' },
        models: { 'my-model': { price: { input: 0.15, output: 0.6, cachedInput: 0.075 } } },
      },
      other: { budget: { max_cost_usd: 0.5 } },
    }),
    {
      gw: {
        budget: { max_cost_usd: 25, per: 'day' },
        models: { 'my-model': { price: { input: 0.15, output: 0.6, cached_input: 0.075 } } },
      },
      other: { budget: { max_cost_usd: 0.5 } },
    },
  );
});

test('usage: cached input tokens come back as cachedInputTokens, present only when sent', () => {
  const cached = valueFromWire({ text: 't', usage: { input_tokens: 10, output_tokens: 4, cached_input_tokens: 6 } });
  assert.deepEqual(cached.usage, { inputTokens: 10, outputTokens: 4, cachedInputTokens: 6 });
  const outcome = outcomeFromWire({
    index: 0,
    ok: true,
    value: { text: 't', usage: { input_tokens: 7, output_tokens: 1, cached_input_tokens: 7 } },
    cost_usd: 0.5,
  });
  assert.equal(outcome.value.usage.cachedInputTokens, 7);
  assert.equal(outcome.value.costUsd, 0.5);
  // The sidecar sends it only when some of the prompt came from the cache.
  const none = valueFromWire({ text: 't', usage: { input_tokens: 10, output_tokens: 4 } });
  assert.ok(!('cachedInputTokens' in none.usage));
  assert.equal(none.usage.cachedInputTokens ?? 0, 0);
  assert.equal(valueFromWire({ text: 't', usage: null }).usage, null);
});

test('stats: a provider budget in camelCase; cached tokens per model', () => {
  const stats = statsFromWire({
    usage: { m: { input_tokens: 12, output_tokens: 20, cached_input_tokens: 6 } },
    cost_usd: { m: 0.0266 },
    cost_unknown: 0,
    providers: {
      my_gw: {
        kind: 'openai',
        limits: { concurrency: 64 },
        budget: { max_cost_usd: 2.5, per: 'day', spent_usd: 0.0266, reserved_usd: 0 },
      },
    },
  });
  assert.deepEqual(stats.usage, { m: { inputTokens: 12, outputTokens: 20, cachedInputTokens: 6 } });
  assert.deepEqual(stats.costUsd, { m: 0.0266 });
  assert.deepEqual(stats.providers.my_gw.budget, { maxCostUsd: 2.5, per: 'day', spentUsd: 0.0266, reservedUsd: 0 });
});
