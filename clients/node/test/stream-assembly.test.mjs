// Token streaming without a sidecar: delta/reset notifications → chunks, their assembly
// (a reset discards what came before), ChatStream's loop and result, the `stream` item field.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortError, ChatStream, HTTPError, ITEM_FIELDS, StreamAssembler, Volley, chat } from '../src/index.js';
import { chunkFromWire, itemToWire, outcomeFromWire } from '../src/convert.js';

const delta = (text, attempt = 1, index = 0) => chunkFromWire('delta', { request: 1, index, attempt, text });
const reset = (attempt = 1, index = 0) => chunkFromWire('reset', { request: 1, index, attempt });

test('delta and reset notifications become chunks; every chunk has a string text', () => {
  assert.deepEqual(chunkFromWire('delta', { request: 8, index: 2, attempt: 1, text: 'Hel' }, 'k'), {
    type: 'delta',
    index: 2,
    key: 'k',
    attempt: 1,
    text: 'Hel',
    toolCalls: undefined,
  });
  assert.deepEqual(
    chunkFromWire('delta', { request: 8, index: 5, attempt: 2, tool_calls: [{ index: 0, id: 'call_1', name: 'get_weather', arguments: '{"ci' }] }),
    {
      type: 'delta',
      index: 5,
      key: undefined,
      attempt: 2,
      text: '',
      toolCalls: [{ index: 0, id: 'call_1', name: 'get_weather', arguments: '{"ci' }],
    },
  );
  assert.deepEqual(chunkFromWire('reset', { request: 8, index: 2, attempt: 1 }, 'k'), { type: 'reset', index: 2, key: 'k', attempt: 1, text: '' });
  assert.equal(chunkFromWire('progress', { request: 8, done: 1 }), undefined);
  assert.equal(chunkFromWire('item', { request: 8, index: 0, ok: true }), undefined);
});

test('the assembler concatenates deltas, and a reset discards every delta before it', () => {
  const a = new StreamAssembler();
  assert.equal(a.text, '');
  assert.equal(a.attempt, undefined);
  for (const chunk of [delta('abcd'), delta('efgh'), reset(1), delta('abcd', 2), delta('efgh', 2), delta('ijkl', 2)]) a.apply(chunk);
  assert.equal(a.text, 'abcdefghijkl', 'not doubled');
  assert.equal(a.attempt, 2);
  assert.equal(a.resets, 1);
  // Outcomes (asCompleted's deltas mode) and anything else are ignored.
  a.apply({ type: 'outcome', index: 0, ok: true, value: { text: 'x' } }).apply(undefined);
  assert.equal(a.text, 'abcdefghijkl');
});

test('the assembler starts over on a delta of a later attempt even without a reset', () => {
  const a = new StreamAssembler();
  a.apply(delta('stale', 1)).apply(delta('fresh', 2)).apply(delta(' text', 2));
  assert.equal(a.text, 'fresh text');
  assert.equal(a.resets, 0);
  // A reset followed by the next attempt's first delta: cleared once, nothing lost.
  const b = new StreamAssembler();
  b.apply(delta('ab', 1)).apply(reset(1)).apply(delta('cd', 2));
  assert.equal(b.text, 'cd');
});

test('the assembler joins tool-call pieces by index into OpenAI-shaped calls', () => {
  const a = new StreamAssembler();
  const pieces = [
    [{ index: 0, id: 'call_1', name: 'get_weather', arguments: '{"ci' }],
    [{ index: 0, arguments: 'ty":"Pa' }, { index: 1, id: 'call_2', name: 'get_time' }],
    [{ index: 0, arguments: 'ris"}' }, { index: 1, arguments: '{}' }],
  ];
  for (const toolCalls of pieces) {
    a.apply(chunkFromWire('delta', { request: 1, index: 0, attempt: 1, tool_calls: toolCalls }));
  }
  assert.deepEqual(a.toolCalls, [
    { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
  ]);
  assert.equal(a.text, '');
  a.apply(reset(1));
  assert.deepEqual(a.toolCalls, []);
});

/**
 * A ChatStream over a scripted "sidecar": `script` pushes chunks and settles the call.
 * @param {(push: (chunk: any) => void, signal: AbortSignal) => Promise<any>} script
 */
function fakeStream(script, userSignal) {
  const stop = new AbortController();
  const signal = userSignal ? AbortSignal.any([userSignal, stop.signal]) : stop.signal;
  const stops = [];
  const stream = new ChatStream({
    signal,
    stop: (reason) => {
      stops.push(reason);
      stop.abort(reason);
    },
    start: (onChunk) => script(onChunk, signal),
  });
  return { stream, stops };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('ChatStream yields the chunks in order, then its result is there', async () => {
  const { stream } = fakeStream(async (push) => {
    await tick();
    for (const chunk of [delta('abcd'), delta('efgh'), reset(1), delta('abcd', 2), delta('efgh', 2), delta('ijkl', 2)]) push(chunk);
    return { text: 'abcdefghijkl', finishReason: 'stop', ttftMs: 3.5 };
  });
  const seen = [];
  let shown = '';
  for await (const chunk of stream) {
    seen.push(chunk.type);
    shown = chunk.type === 'reset' ? '' : shown + chunk.text;
    assert.equal(stream.text, shown, 'stream.text follows the chunks iterated');
  }
  assert.deepEqual(seen, ['delta', 'delta', 'reset', 'delta', 'delta', 'delta']);
  assert.equal(stream.text, 'abcdefghijkl');
  assert.equal(stream.resets, 1);
  assert.equal(stream.attempt, 2);
  assert.deepEqual(await stream.result, { text: 'abcdefghijkl', finishReason: 'stop', ttftMs: 3.5 });
  assert.throws(() => stream[Symbol.asyncIterator](), { name: 'TypeError', message: /only once/ });
});

test('ChatStream: a failure is thrown by the loop and rejects result with the same error', async () => {
  const failure = new HTTPError('HTTP 400: no', { kind: 'http', status: 400, attempts: 1 });
  const { stream } = fakeStream(async (push) => {
    push(delta('par'));
    throw failure;
  });
  const seen = [];
  await assert.rejects(async () => {
    for await (const chunk of stream) seen.push(chunk.text);
  }, (error) => error === failure);
  assert.deepEqual(seen, ['par'], 'chunks before the failure are delivered first');
  await assert.rejects(stream.result, (error) => error === failure);
});

test('ChatStream: a failure nobody awaits result for is no unhandled rejection', async () => {
  const unhandled = [];
  const onUnhandled = (reason) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const { stream } = fakeStream(async () => {
      throw new HTTPError('boom', { kind: 'http' });
    });
    await assert.rejects(async () => {
      for await (const _ of stream) {
        // nothing comes
      }
    }, /boom/);
    await tick();
    await tick();
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('ChatStream: leaving the loop early stops the call and waits for its reply', async () => {
  let replied = false;
  const { stream, stops } = fakeStream(
    (push, signal) =>
      new Promise((resolve, reject) => {
        push(delta('one'));
        push(delta('two'));
        // The "sidecar" answers the cancel a little later, as -32800 → AbortError.
        signal.addEventListener('abort', () =>
          setTimeout(() => {
            replied = true;
            reject(new AbortError('the operation was aborted', signal.reason));
          }, 20),
        );
      }),
  );
  for await (const chunk of stream) {
    assert.equal(chunk.text, 'one');
    break;
  }
  assert.equal(stops.length, 1, 'stopped once');
  assert.match(String(stops[0]), /exited early/);
  assert.ok(replied, 'the loop returned only once the reply was consumed');
  await assert.rejects(stream.result, { name: 'AbortError' });
});

test('ChatStream: after an abort, chunks still arriving are dropped and AbortError is thrown', async () => {
  const controller = new AbortController();
  const { stream, stops } = fakeStream(
    (push, signal) =>
      new Promise((resolve, reject) => {
        push(delta('one'));
        signal.addEventListener('abort', () => {
          push(delta('late'));
          setTimeout(() => reject(new AbortError('the operation was aborted', signal.reason)), 5);
        });
      }),
    controller.signal,
  );
  const seen = [];
  await assert.rejects(async () => {
    for await (const chunk of stream) {
      seen.push(chunk.text);
      controller.abort(new Error('stop'));
    }
  }, { name: 'AbortError' });
  assert.deepEqual(seen, ['one']);
  assert.deepEqual(stops, [], 'the loop ended with the reply: nothing more to stop');
});

test('the stream item field: chat({stream: true}), item objects, ITEM_FIELDS', () => {
  assert.deepEqual(chat('x', { stream: true, provider: 'mock' }), {
    provider: 'mock',
    request: { messages: [{ role: 'user', content: 'x' }] },
    stream: true,
  });
  assert.equal('stream' in chat('x', { stream: false }), false, 'stream: false is left out');
  assert.equal(chat('x', { stream: false }).request.stream, undefined);
  assert.deepEqual(itemToWire({ request: { messages: [] }, stream: true }, undefined), { request: { messages: [] }, stream: true });
  assert.throws(() => chat('x', { streamOptions: { include_usage: true } }), { name: 'TypeError', message: /stream options/ });
  assert.throws(() => itemToWire({ request: { messages: [] }, streem: true }, undefined), /did you mean "stream"/);
  assert.ok(ITEM_FIELDS.includes('stream'));
});

test('outcomes have ttftMs (undefined when the sidecar sent none)', () => {
  assert.equal(outcomeFromWire({ index: 0, ok: true, value: { text: 'x' }, attempts: 1, latency_ms: 9, ttft_ms: 2.5 }).ttftMs, 2.5);
  const plain = outcomeFromWire({ index: 0, ok: true, value: { text: 'x' }, attempts: 1 });
  assert.ok('ttftMs' in plain);
  assert.equal(plain.ttftMs, undefined);
});

test('stream() checks its arguments before sending anything', async () => {
  const v = new Volley({ binary: '/nonexistent/volley' });
  assert.throws(() => v.stream('x', { timout: 1 }), { name: 'TypeError', message: /did you mean "timeout"/ });
  assert.throws(() => v.stream(chat('x'), { maxTokens: 5 }), { name: 'TypeError', message: /stream\(\): unknown option "maxTokens"/ });
  assert.throws(() => v.stream('x', null), { name: 'TypeError' });
  await assert.rejects(async () => {
    for await (const _ of v.asCompleted(['x'], { deltas: 'yes' })) {
      // not reached
    }
  }, { name: 'TypeError', message: /deltas/ });
  await assert.rejects(v.gather(['x'], { deltas: true }), { name: 'TypeError', message: /onDelta/ });
  // A signal aborted before the call: the loop throws AbortError, nothing is started.
  const controller = new AbortController();
  controller.abort();
  const stream = v.stream('x', { signal: controller.signal });
  await assert.rejects(async () => {
    for await (const _ of stream) {
      // not reached
    }
  }, { name: 'AbortError' });
  await assert.rejects(stream.result, { name: 'AbortError' });
  assert.equal(v.pid, undefined, 'no sidecar was started');
  await v.close();
});
