// Token streaming on the client's side: the queue an async iteration waits on, the assembly
// of one item's deltas (with `reset`), and `ChatStream`, what `Volley.stream()` returns.
// The wire side (`delta` and `reset` notifications → chunks) is in src/convert.js.

/** A queue an async generator can wait on. */
export class OutcomeQueue {
  /** @type {any[]} */
  #items = [];
  /** @type {((entry: {item?: any, end?: true, error?: unknown}) => void) | undefined} */
  #waiter;
  /** @type {{end: true, error?: unknown} | undefined} */
  #end;

  /** @param {any} item */
  push(item) {
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter({ item });
    } else {
      this.#items.push(item);
    }
  }

  /** @param {unknown} [error] */
  finish(error) {
    this.#end = { end: true, error };
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter(this.#end);
    }
  }

  /** @returns {Promise<{item?: any, end?: true, error?: unknown}>} */
  next() {
    if (this.#items.length) return Promise.resolve({ item: this.#items.shift() });
    if (this.#end) return Promise.resolve(this.#end);
    return new Promise((resolve) => (this.#waiter = resolve));
  }
}

/**
 * One item's answer so far, from its chunks: `text`, and `toolCalls` OpenAI-shaped as in the
 * final value (`{id, type: 'function', function: {name, arguments}}`, arguments joined). A
 * `reset` chunk empties it (the next attempt starts the answer again), and so does a delta of
 * a later attempt than the one it holds (the protocol sends a `reset` first; this only makes
 * sure text is never doubled). Feed it the chunks of one item, in the order they came.
 */
export class StreamAssembler {
  #text = '';
  /** @type {Array<{id: string | undefined, type: 'function', function: {name: string | undefined, arguments: string}}>} */
  #calls = [];
  /** @type {number | undefined} */
  #attempt;
  #resets = 0;

  /** The text received since the last reset. */
  get text() {
    return this.#text;
  }

  /** The tool calls received since the last reset, in the order of their `index`. */
  get toolCalls() {
    return this.#calls.filter(Boolean);
  }

  /** The attempt the current text comes from (`undefined` before the first chunk). */
  get attempt() {
    return this.#attempt;
  }

  /** How many times the answer started again (`reset` chunks seen). */
  get resets() {
    return this.#resets;
  }

  /**
   * Applies one chunk. Anything but a delta or a reset (an outcome, in `asCompleted`'s
   * `deltas` mode) is ignored.
   * @param {import('../index.js').StreamChunk | {type?: unknown}} chunk
   * @returns {this}
   */
  apply(chunk) {
    const { type } = /** @type {any} */ (chunk ?? {});
    if (type === 'reset') {
      this.#clear();
      this.#resets += 1;
      this.#attempt = /** @type {any} */ (chunk).attempt;
      return this;
    }
    if (type !== 'delta') return this;
    const delta = /** @type {import('../index.js').DeltaChunk} */ (chunk);
    if (typeof delta.attempt === 'number' && typeof this.#attempt === 'number' && delta.attempt > this.#attempt) {
      this.#clear();
    }
    if (typeof delta.attempt === 'number') this.#attempt = delta.attempt;
    if (typeof delta.text === 'string') this.#text += delta.text;
    for (const piece of Array.isArray(delta.toolCalls) ? delta.toolCalls : []) {
      const position = typeof piece?.index === 'number' && piece.index >= 0 ? piece.index : this.#calls.length;
      const call = (this.#calls[position] ??= { id: undefined, type: 'function', function: { name: undefined, arguments: '' } });
      if (typeof piece.id === 'string') call.id = piece.id;
      if (typeof piece.name === 'string') call.function.name = piece.name;
      if (typeof piece.arguments === 'string') call.function.arguments += piece.arguments;
    }
    return this;
  }

  #clear() {
    this.#text = '';
    this.#calls = [];
  }
}

/**
 * One streamed item (`Volley.stream()`): an async iterable of its chunks, once, and `result`,
 * the promise of its whole value (`call()`'s, with `ttftMs`). The call starts when the stream
 * is created; chunks wait in memory until they are iterated.
 *
 * Leaving the loop early (`break`, `return`, a throw) cancels the item in the sidecar and
 * waits for its reply; `result` then rejects with an `AbortError`. A failure of the item is
 * thrown by the loop and rejects `result`, with the error `call()` would have rejected with.
 */
export class ChatStream {
  /** @type {Promise<import('../index.js').StreamResult>} */
  result;
  #queue = new OutcomeQueue();
  #assembler = new StreamAssembler();
  /** @type {AbortSignal} */
  #signal;
  /** @type {(reason: unknown) => void} */
  #stop;
  /** Resolves (never rejects) once the sidecar's reply has been consumed. */
  #done;
  #settled = false;
  #iterated = false;

  /**
   * @param {object} run
   * @param {(onChunk: (chunk: import('../index.js').StreamChunk) => void) => Promise<import('../index.js').StreamResult>} run.start
   *   sends the request; `onChunk` gets its deltas and resets as they come
   * @param {AbortSignal} run.signal fires on the caller's abort and on `stop`
   * @param {(reason: unknown) => void} run.stop aborts `signal`: the loop was left early
   */
  constructor({ start, signal, stop }) {
    this.#signal = signal;
    this.#stop = stop;
    this.result = start((chunk) => this.#queue.push(chunk));
    // The loop delivers the same failure: a caller who only iterates must not get an
    // unhandled rejection (a `.catch` here marks it handled; awaiting `result` still throws).
    this.result.catch(() => {});
    this.#done = this.result.then(
      () => {
        this.#settled = true;
        this.#queue.finish();
      },
      (error) => {
        this.#settled = true;
        this.#queue.finish(error);
      },
    );
  }

  /** The text of the chunks iterated so far, since the last reset. */
  get text() {
    return this.#assembler.text;
  }

  /** The tool calls of the chunks iterated so far (OpenAI-shaped, arguments joined). */
  get toolCalls() {
    return this.#assembler.toolCalls;
  }

  /** The attempt the chunks iterated last came from. */
  get attempt() {
    return this.#assembler.attempt;
  }

  /** How many resets were iterated (the answer started again after a failed attempt). */
  get resets() {
    return this.#assembler.resets;
  }

  /** @returns {AsyncGenerator<import('../index.js').StreamChunk, void, undefined>} */
  [Symbol.asyncIterator]() {
    if (this.#iterated) throw new TypeError('a stream can be iterated only once (its chunks are not kept)');
    this.#iterated = true;
    return this.#chunks();
  }

  async *#chunks() {
    try {
      for (;;) {
        const entry = await this.#queue.next();
        if (entry.end) {
          if (entry.error !== undefined) throw entry.error;
          return;
        }
        // After an abort, chunks still arriving are of an answer the caller stopped: only the
        // AbortError is delivered.
        if (this.#signal.aborted) continue;
        this.#assembler.apply(entry.item);
        yield /** @type {import('../index.js').StreamChunk} */ (entry.item);
      }
    } finally {
      if (!this.#settled) {
        this.#stop(new Error('stream loop exited early'));
        await this.#done;
      }
    }
  }
}
