// Every endpoint against the real sidecar on the mock provider (gather, asCompleted, call),
// v.embed(), and with volley-fake-llm (when built) the same through an openai provider that
// answers with real OpenAI-shaped bodies.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { AbortError, DeadlineExceeded, HTTPError, InvalidRequest, ProtocolError, Volley, chat, complete, embed, post, respond } from '../src/index.js';
import { binary, mockVolley, repoRoot } from './helpers.mjs';

const v = mockVolley();
after(() => v.close());

const mock = { provider: 'mock', mock: { latencyMs: 0 } };

/** One item of every endpoint, keyed, and what its value must be. */
const everyEndpoint = () => [
  embed(['alpha', 'beta'], { ...mock, key: 'embed', dimensions: 8 }),
  embed(['alpha', 'beta'], { ...mock, key: 'embed-float', dimensions: 8, encodingFormat: 'float' }),
  respond('how are you?', { ...mock, key: 'respond', instructions: 'Be brief.', maxOutputTokens: 16 }),
  complete('Once upon a time', { ...mock, key: 'complete', maxTokens: 16 }),
  post('/v1/moderations', { input: 'some text', some_field: 1 }, { ...mock, key: 'post' }),
  chat('hello', { ...mock, key: 'messages', endpoint: 'messages', system: 'Be kind.', maxTokens: 16 }),
  chat('hi', { ...mock, key: 'chat' }),
];

/** Checks each endpoint's value, by the item's key. */
function checkValue(key, value) {
  switch (key) {
    case 'embed':
    case 'embed-float':
      assert.equal(value.encoding, key === 'embed' ? 'base64' : 'float');
      assert.equal(value.dimensions, 8);
      assert.equal(value.embeddings.length, 2);
      for (const vector of value.embeddings) {
        assert.ok(vector instanceof Float32Array);
        assert.equal(vector.length, 8);
        assert.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-5, 'the mock answers unit vectors');
      }
      assert.equal(value.text, null);
      assert.equal(value.finishReason, null);
      assert.equal(value.usage.outputTokens, 0);
      break;
    case 'respond':
      assert.equal(value.text, 'Mock reply to: how are you?');
      assert.equal(value.finishReason, 'stop');
      assert.match(value.id, /^resp_/);
      assert.equal(typeof value.usage.inputTokens, 'number');
      assert.equal(value.toolCalls, undefined);
      break;
    case 'complete':
      assert.equal(value.text, 'Mock reply to: Once upon a time');
      assert.equal(value.finishReason, 'stop');
      assert.equal(typeof value.usage.outputTokens, 'number');
      break;
    case 'post':
      assert.equal(value.status, 200);
      assert.deepEqual(value.body, {
        mock: true,
        path: '/v1/moderations',
        request: { input: 'some text', some_field: 1, mock: { latency_ms: 0 } },
      });
      break;
    case 'messages':
      assert.equal(value.text, 'Mock reply to: hello');
      break;
    case 'chat':
      assert.equal(value.text, 'Mock reply to: hi');
      break;
    default:
      assert.fail(`unexpected key ${key}`);
  }
}

test('every endpoint in one gather: each value in input order, of its own shape', async () => {
  const items = everyEndpoint();
  const results = await v.gather(items);
  assert.equal(results.length, items.length);
  results.forEach((value, i) => checkValue(items[i].key, value));
  results.outcomes.forEach((outcome, i) => {
    assert.equal(outcome.ok, true);
    assert.equal(outcome.key, items[i].key);
    assert.equal(outcome.provider, 'mock');
    assert.equal(outcome.value, results[i]);
  });
  assert.equal(results.stats.succeeded, items.length);
  // The same text, the same vector: base64 and float decode alike.
  const [base64, float] = results;
  for (const [i, vector] of base64.embeddings.entries()) {
    for (let d = 0; d < vector.length; d += 1) assert.ok(Math.abs(vector[d] - float.embeddings[i][d]) < 1e-7);
  }
});

test('every endpoint in asCompleted: each outcome once, typed values', async () => {
  const items = everyEndpoint();
  const seen = new Map();
  for await (const outcome of v.asCompleted(items)) {
    assert.ok(outcome.ok, outcome.error?.message);
    assert.ok(!seen.has(outcome.index), 'each index once');
    seen.set(outcome.index, outcome);
    checkValue(outcome.key, outcome.value);
  }
  assert.equal(seen.size, items.length);
  assert.equal(seen.get(4).value.status, 200);
});

test('every endpoint in call', async () => {
  for (const item of everyEndpoint()) checkValue(item.key, await v.call(item));
});

test('the same text embeds to the same vector, base64 or float, alone or in a list', async () => {
  const options = { ...mock, dimensions: 64 };
  const [alone] = (await v.call(embed('the same text', options))).embeddings;
  const listed = (await v.call(embed(['other', 'the same text'], options))).embeddings[1];
  const [float] = (await v.call(embed('the same text', { ...options, encodingFormat: 'float' }))).embeddings;
  assert.deepEqual(listed, alone);
  assert.equal(float.length, 64);
  for (let d = 0; d < 64; d += 1) assert.ok(Math.abs(alone[d] - float[d]) < 1e-7, `dimension ${d}: ${alone[d]} vs ${float[d]}`);
  const [other] = (await v.call(embed('another text', options))).embeddings;
  assert.notDeepEqual(other, alone);
  // The default dimensions, and each vector on a buffer of its own.
  const wide = await v.call(embed(['a', 'b'], mock));
  assert.equal(wide.dimensions, 1536);
  assert.equal(wide.embeddings[0].length, 1536);
  assert.equal(wide.embeddings[0].buffer.byteLength, 1536 * 4);
  assert.notEqual(wide.embeddings[0].buffer, wide.embeddings[1].buffer);
});

test('v.embed: the vectors of a list of texts, in order, batched', async () => {
  const texts = Array.from({ length: 1000 }, (_, i) => `text number ${i}`);
  let progress;
  const vectors = await v.embed(texts, { ...mock, dimensions: 16, batchSize: 64, concurrency: 4, onProgress: (p) => (progress = p) });
  assert.equal(vectors.length, texts.length);
  assert.ok(vectors.every((vector) => vector instanceof Float32Array && vector.length === 16));
  assert.deepEqual(progress, { done: 16, failed: 0, total: 16 }, 'ceil(1000 / 64) requests');
  for (const i of [0, 63, 64, 500, 999]) {
    const [alone] = (await v.call(embed(texts[i], { ...mock, dimensions: 16 }))).embeddings;
    assert.deepEqual(vectors[i], alone, `text ${i} got its own vector`);
  }
  assert.deepEqual(await v.embed([], mock), []);
  const [single] = await v.embed(texts[7], { ...mock, dimensions: 16 });
  assert.deepEqual(single, vectors[7], 'a string alone is one text');
  const [one] = await v.embed(['x'], { ...mock, dimensions: 4, encodingFormat: 'float' });
  assert.deepEqual(one, (await v.call(embed('x', { ...mock, dimensions: 4 }))).embeddings[0]);
});

test('v.embed: the first request to fail rejects with its typed error; its index says which texts', async () => {
  const texts = Array.from({ length: 300 }, (_, i) => `t${i}`);
  texts[150] = ''; // the mock refuses an empty input, as OpenAI does
  await assert.rejects(v.embed(texts, { ...mock, batchSize: 100, dimensions: 4 }), (error) => {
    assert.ok(error instanceof InvalidRequest, error.message);
    assert.equal(error.key, '100:200', 'the texts the failed request held');
    assert.equal(error.index, 1);
    assert.equal(error.attempts, 1);
    assert.match(error.message, /input/);
    return true;
  });
  await assert.rejects(v.embed(texts.slice(0, 10), { ...mock, mock: { latencyMs: 0, fail: 'http', status: 400 } }), HTTPError);
  await assert.rejects(v.embed(texts.slice(0, 10), { provider: 'mock', mock: { latencyMs: 2_000 }, timeout: 0.2 }), DeadlineExceeded);
  const controller = new AbortController();
  const aborted = v.embed(texts.slice(0, 10), { provider: 'mock', mock: { latencyMs: 5_000 }, signal: controller.signal });
  setTimeout(() => controller.abort(new Error('enough')), 50);
  await assert.rejects(aborted, AbortError);
  assert.equal((await v.call(embed('still serving', mock))).embeddings.length, 1);
});

test('v.embed checks its arguments before sending anything', async () => {
  const w = new Volley({ binary: '/nonexistent/volley' });
  await assert.rejects(w.embed(new Set(['a'])), { name: 'TypeError', message: /texts must be an array of texts \(or one text\)/ });
  await assert.rejects(w.embed(['a'], { key: 'k' }), { name: 'TypeError', message: /each request is keyed "start:stop"/ });
  await assert.rejects(w.embed(['a'], { batchsize: 10 }), { name: 'TypeError', message: /unknown option "batchsize" \(did you mean "batchSize"\?\)/ });
  await assert.rejects(w.embed(['a'], { batchSize: 0 }), { name: 'TypeError', message: /batchSize must be a positive integer/ });
  await assert.rejects(w.embed(['a'], { dimension: 4 }), { message: /did you mean "dimensions"/ });
  assert.deepEqual(await w.embed([]), [], 'nothing to embed: no sidecar needed');
  await w.close();
});

test('item builders: endpoint and path on the wire, body names in snake_case (post: as given), typos refused', () => {
  assert.deepEqual(embed(['a', 'b'], { model: 'text-embedding-3-small', dimensions: 256, encodingFormat: 'float', key: 'k', maxRetries: 1 }), {
    key: 'k',
    endpoint: 'embeddings',
    request: { model: 'text-embedding-3-small', input: ['a', 'b'], dimensions: 256, encoding_format: 'float' },
    max_retries: 1,
  });
  assert.deepEqual(respond([{ role: 'user', content: 'hi' }], { model: 'gpt-4.1', instructions: 'x', maxOutputTokens: 64, previousResponseId: 'resp_1', raw: true }), {
    endpoint: 'responses',
    request: { model: 'gpt-4.1', input: [{ role: 'user', content: 'hi' }], instructions: 'x', max_output_tokens: 64, previous_response_id: 'resp_1' },
    raw: true,
  });
  assert.deepEqual(complete('Once', { model: 'gpt-3.5-turbo-instruct', maxTokens: 5, stop: ['\n'], timeout: 3, extraBody: { top_k: 4 } }), {
    endpoint: 'completions',
    request: { model: 'gpt-3.5-turbo-instruct', prompt: 'Once', max_tokens: 5, stop: ['\n'], top_k: 4 },
    timeout: 3,
  });
  assert.deepEqual(post('/v1/moderations', { input: 'x', someField: 1 }, { provider: 'openai', mock: { latencyMs: 1 } }), {
    provider: 'openai',
    path: '/v1/moderations',
    request: { input: 'x', someField: 1, mock: { latency_ms: 1 } },
  });
  assert.deepEqual(chat('hi', { endpoint: 'messages', system: 'Be brief.', model: 'claude-sonnet-4-5', maxTokens: 9 }), {
    endpoint: 'messages',
    request: { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }], system: 'Be brief.', max_tokens: 9 },
  });
  assert.equal(chat('hi', { endpoint: 'chat' }).endpoint, undefined, 'the default is left out');

  assert.throws(() => embed('x', { dimension: 4 }), { name: 'TypeError', message: /embed\(\): unknown option "dimension" \(did you mean "dimensions"\?\)/ });
  assert.throws(() => embed('x', { raw: true }), { message: /no raw body/ });
  assert.throws(() => respond('x', { system: 'no' }), { message: /respond\(\): option "system": .*instructions/ });
  assert.throws(() => respond('x', { maxTokens: 5 }), { message: /maxOutputTokens/ });
  assert.throws(() => respond('x', { stream: true }), { message: /responses items are not streamed/ });
  assert.throws(() => complete('x', { maxToken: 5 }), { message: /did you mean "maxTokens"/ });
  assert.throws(() => chat('x', { endpoint: 'embeddings' }), { message: /build embeddings items with embed\(input, options\)/ });
  assert.throws(() => chat('x', { endpoint: 'nope' }), { message: /endpoint must be 'chat' or 'messages'/ });
  assert.throws(() => post('v1/x', {}), { message: /path must start with \// });
  assert.throws(() => post('/x', 'body'), { message: /body must be a plain object/ });
  assert.throws(() => post('/x', {}, { timout: 1 }), { message: /did you mean "timeout"/ });
});

test('defaultModel fills chat, messages, responses and completions items, not embeddings or raw ones', async () => {
  const w = mockVolley({ defaultModel: 'chat-model', defaultProvider: 'mock' });
  try {
    const [chatValue, responses, completions, embeddings, raw] = await w.gather([
      chat('a', { mock: { latencyMs: 0 } }),
      respond('b', { mock: { latencyMs: 0 } }),
      complete('c', { mock: { latencyMs: 0 } }),
      embed('d', { dimensions: 2, mock: { latencyMs: 0 } }),
      post('/v1/x', { input: 'e' }, { mock: { latencyMs: 0 } }),
    ]);
    assert.deepEqual([chatValue.model, responses.model, completions.model], ['chat-model', 'chat-model', 'chat-model']);
    assert.equal(embeddings.model, 'mock', 'the request named no model');
    assert.equal(raw.body.request.model, undefined);
    assert.equal((await w.call(embed('d', { model: 'embedder', dimensions: 2, mock: { latencyMs: 0 } }))).model, 'embedder');
  } finally {
    await w.close();
  }
});

test('endpoint errors: an endpoint the provider does not serve, a malformed item, a mock failure, raw', async () => {
  const w = mockVolley({ providers: { claude: { kind: 'anthropic', apiKey: 'sk-ant-test', baseUrl: 'http://127.0.0.1:9' } } });
  try {
    const results = await w.gather(
      [
        embed('x', { provider: 'claude' }),
        { provider: 'mock', endpoint: 'bogus', request: { input: 'x' } },
        embed('x', { provider: 'mock', mock: { latencyMs: 0, fail: 'http', status: 400 } }),
        respond('x', { ...mock, raw: true }),
        complete('x', { ...mock, raw: true }),
      ],
      { returnExceptions: true },
    );
    assert.ok(results[0] instanceof InvalidRequest, String(results[0]));
    assert.equal(results[0].attempts, 0, 'nothing was sent');
    assert.ok(results[1] instanceof InvalidRequest);
    assert.match(results[1].message, /endpoint/);
    assert.ok(results[2] instanceof HTTPError);
    assert.equal(results[2].status, 400);
    assert.deepEqual(results[3].raw, { mock: true, text: 'Mock reply to: x' });
    assert.deepEqual(results[4].raw, { mock: true, text: 'Mock reply to: x' });
    // call: a malformed item is a ProtocolError (-32602), as for chat items.
    await assert.rejects(w.call({ provider: 'mock', endpoint: 'bogus', request: {} }), (error) => error instanceof ProtocolError && error.code === -32602);
    await assert.rejects(w.call(embed('x', { provider: 'claude' })), InvalidRequest);
  } finally {
    await w.close();
  }
});

const fakeLLM = [process.env.VOLLEY_FAKE_LLM, join(dirname(binary), 'volley-fake-llm'), join(repoRoot, '.build', 'debug', 'volley-fake-llm')].find(
  (path) => path && existsSync(path),
);

test('an openai provider (volley-fake-llm): base64 and float vectors, Responses tool calls, completions, raw posts', { skip: !fakeLLM && 'no volley-fake-llm' }, async () => {
  const server = spawn(fakeLLM, ['--latency-ms', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: server.stdout }).once('line', resolve);
    server.once('exit', (code) => reject(new Error(`volley-fake-llm exited with ${code}`)));
  });
  const baseUrl = `${JSON.parse(line).base_url}/v1`;
  const w = mockVolley({ providers: { fake: { kind: 'openai', baseUrl, apiKey: 'sk-test' } } });
  try {
    const model = { provider: 'fake', model: 'text-embedding-3-small' };
    const [base64, float, wide] = await w.gather([
      embed(['one', 'two'], { ...model, dimensions: 32 }),
      embed(['one', 'two'], { ...model, dimensions: 32, encodingFormat: 'float' }),
      embed('three', model),
    ]);
    assert.equal(base64.encoding, 'base64');
    assert.equal(float.encoding, 'float');
    for (const [i, vector] of base64.embeddings.entries()) {
      assert.equal(vector.length, 32);
      for (let d = 0; d < 32; d += 1) assert.ok(Math.abs(vector[d] - float.embeddings[i][d]) < 1e-6);
    }
    assert.equal(wide.dimensions, 1536);
    assert.equal(wide.embeddings[0].length, 1536);
    assert.deepEqual(await w.embed(['one', 'two'], { ...model, dimensions: 32, batchSize: 1 }), base64.embeddings);

    const tools = [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} } }];
    const called = await w.call(respond('weather in Paris?', { provider: 'fake', model: 'gpt-4o-mini', tools, extraBody: { fake: { tool_call: true } } }));
    assert.equal(called.finishReason, 'tool_calls');
    assert.equal(called.text, null);
    assert.match(called.id, /^resp_/);
    assert.equal(called.toolCalls.length, 1);
    assert.equal(called.toolCalls[0].type, 'function');
    assert.equal(called.toolCalls[0].function.name, 'get_weather');
    assert.equal(typeof called.toolCalls[0].id, 'string');
    const answered = await w.call(respond('hello', { provider: 'fake', model: 'gpt-4o-mini' }));
    assert.match(answered.text, /^Echo: hello/);
    assert.equal(answered.finishReason, 'stop');

    const completed = await w.call(complete('once', { provider: 'fake', model: 'gpt-3.5-turbo-instruct' }));
    assert.match(completed.text, /^Echo: once/);

    const raw = await w.call(post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { provider: 'fake' }));
    assert.equal(raw.status, 200);
    assert.equal(raw.body.object, 'chat.completion');
    assert.equal(typeof raw.body.usage.prompt_tokens, 'number', 'the body keeps its names');
    await assert.rejects(w.call(post('/nowhere', {}, { provider: 'fake' })), (error) => error instanceof HTTPError && error.status === 404);
  } finally {
    await w.close();
    server.kill();
  }
});
