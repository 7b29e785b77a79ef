// The public client: one Volley instance has (at most) one session at a time, with a sidecar
// process of its own (stdio, the default) or on a connection to a shared daemon.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { findBinary } from './binary.js';
import {
  batchParams,
  batchStatsFromWire,
  camelDeep,
  chat,
  checkOptions,
  chunkFromWire,
  endpointItem,
  isPlainObject,
  itemToWire,
  outcomeFromWire,
  providersToWire,
  resultsFromWire,
  statsFromWire,
  valueFromWire,
} from './convert.js';
import { attachOrStart, checkSocketPath, defaultSocketPath } from './daemon.js';
import {
  AbortError,
  Cancelled,
  ProtocolError,
  ProtocolVersionMismatch,
  ProviderError,
  SidecarCrashed,
  VolleyError,
  itemError,
} from './errors.js';
import { Connection } from './rpc.js';
import { ProcessTransport, volleyFlags } from './sidecar.js';
import { ChatStream, OutcomeQueue } from './stream.js';
import { PROTOCOL_VERSION, VERSION } from './version.js';

const CLIENT = { name: 'volley-node', version: VERSION };
const VOLLEY_OPTIONS = Object.freeze([
  'binary', 'providers', 'defaultProvider', 'defaultModel', 'configPath', 'logLevel', 'maxLineBytes', 'args', 'env',
  'maxRestarts', 'onStderr', 'shared', 'socket',
]);
/** The variables a shared daemon's session gets from the host (with each provider's `api_key_env`). */
const FORWARDED_ENVIRONMENT = Object.freeze(['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'OPENAI_BASE_URL', 'ANTHROPIC_BASE_URL']);
const SIGNAL_ONLY = Object.freeze(['signal']);
const REQUEST_CANCELLED = -32800;
/** Shared mode: connections tried when the daemon drops them before `initialize` answers. */
const HANDSHAKE_ATTEMPTS = 3;
const REQUEST_FAILED = -32803;
/** `v.embed()`'s options that are not `embed()`'s: how the texts are batched and run. */
const EMBED_BATCH_OPTIONS = Object.freeze(['batchSize', 'concurrency', 'timeout', 'priority', 'signal', 'onProgress']);
/** Texts per embeddings request by default (OpenAI takes up to 2,048 and 300,000 tokens a request). */
const EMBED_BATCH_SIZE = 256;

/**
 * @param {AbortSignal} signal
 * @param {unknown} [data] a -32800 error's data, when the sidecar sent one
 */
function abortError(signal, data) {
  const error = new AbortError('the operation was aborted', signal.reason);
  if (isPlainObject(data)) {
    if (Array.isArray(data.results)) error.results = resultsFromWire(data.results, data.stats);
    if (data.stats !== undefined) error.stats = batchStatsFromWire(data.stats);
  }
  return error;
}

/**
 * Whether a reply says the request was cancelled: -32800, or a fail_fast batch's -32803 whose
 * first "failure" is a cancelled item (the sidecar answers a cancelled fail_fast batch that
 * way), so both read the same whatever the batch's `fail_fast`.
 * @param {unknown} error
 * @returns {error is ProtocolError}
 */
function isCancelledReply(error) {
  if (!(error instanceof ProtocolError)) return false;
  if (error.code === REQUEST_CANCELLED) return true;
  const data = /** @type {any} */ (error.data);
  return error.code === REQUEST_FAILED && isPlainObject(data) && data.error?.kind === 'cancelled' && Array.isArray(data.results);
}

/**
 * A -32800 the caller did not ask for (the sidecar shut down with `mode: cancel`, or got
 * SIGTERM): a `Cancelled` error holding what finished.
 * @param {ProtocolError} error
 */
function cancelledByServer(error) {
  const cancelled = new Cancelled(`${error.message} (by the sidecar: shutdown or signal)`, { kind: 'cancelled' });
  const data = /** @type {any} */ (error.data);
  if (Array.isArray(data?.results)) /** @type {any} */ (cancelled).results = resultsFromWire(data.results, data.stats);
  return cancelled;
}

/**
 * A signal that aborts when either does, with that one's reason (`AbortSignal.any`, which
 * Node gained in 20.3).
 * @param {AbortSignal} a
 * @param {AbortSignal} b
 */
function anySignal(a, b) {
  if (typeof AbortSignal.any === 'function') return AbortSignal.any([a, b]);
  const controller = new AbortController();
  for (const signal of [a, b]) {
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true, signal: controller.signal });
  }
  return controller.signal;
}

/**
 * Puts every slot of a batch on the error `gather` rejects with. Not enumerable: the error is
 * one of those slots, and loggers that copy an error's fields must not loop.
 * @param {VolleyError} error
 * @param {unknown[]} results
 */
function withResults(error, results) {
  Object.defineProperty(error, 'results', { value: results, enumerable: false, writable: true, configurable: true });
  return error;
}

/**
 * The environment volley sees: `process.env` with the `env` option applied over it
 * (`undefined` removes a variable).
 * @param {Record<string, string | undefined> | undefined} overrides
 * @returns {NodeJS.ProcessEnv}
 */
function volleyEnvironment(overrides) {
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, ...overrides };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  return env;
}

/**
 * How a Volley reaches volley. Two ways, one shape: `open()` gives a transport for a new
 * session (see src/rpc.js), `initializeParams()` what that session's `initialize` adds, and
 * `initialized()` sees what it answered.
 * @typedef {object} Launcher
 * @property {string | undefined} socketPath
 * @property {() => Promise<import('./rpc.js').Transport>} open
 * @property {(providers: Record<string, any> | undefined) => Record<string, unknown>} initializeParams
 * @property {(providers: Record<string, any> | undefined) => Record<string, unknown>} configureParams
 * @property {(transport: import('./rpc.js').Transport, info: any) => void} initialized
 * @property {(transport: import('./rpc.js').Transport) => {where: string, advice: string}} describe
 *   which server a session is on, and what to do when its protocol version is not ours
 */

/**
 * Stdio (the default): a sidecar process of this Volley's own, on pipes.
 * @param {import('../index.js').VolleyOptions} options
 * @returns {Launcher}
 */
function stdioLauncher(options) {
  return {
    socketPath: undefined,
    open: async () => new ProcessTransport(findBinary(options.binary), volleyFlags(options), volleyEnvironment(options.env)),
    initializeParams: () => ({}),
    configureParams: () => ({}),
    initialized: () => {},
    describe: (transport) => ({
      where: `volley at ${/** @type {ProcessTransport} */ (transport).binary}`,
      advice: 'use a volley binary of this client\'s release: the packaged client carries its own; ' +
        'the binary option, VOLLEY_BIN or PATH may name another',
    }),
  };
}

/**
 * Shared: a connection to the daemon serving `socketPath`, started (detached, outliving this
 * process) when none is running. The daemon's flags are those of whoever started it; the
 * session's providers are resolved with this host's environment, sent in `initialize`.
 * @param {import('../index.js').VolleyOptions} options
 * @param {string} socketPath
 * @returns {Launcher}
 */
function sharedLauncher(options, socketPath) {
  return {
    socketPath,
    open: () =>
      attachOrStart({
        path: socketPath,
        binary: () => findBinary(options.binary),
        flags: volleyFlags(options),
        env: volleyEnvironment(options.env),
      }),
    initializeParams: (providers) => ({
      environment: sessionEnvironment(volleyEnvironment(options.env), [providers, configFileProviders(options.configPath)]),
    }),
    // A provider added later may name a variable `initialize` did not send: `configure`
    // sends the values its providers read, as a sidecar spawned here would have seen them.
    configureParams: (providers) =>
      providers ? { environment: sessionEnvironment(volleyEnvironment(options.env), [providers]) } : {},
    initialized: (transport, info) => {
      const pid = info?.server?.pid;
      if (typeof pid === 'number') /** @type {import('./daemon.js').SocketTransport} */ (transport).pid = pid;
    },
    describe: () => ({
      where: `the volley daemon at ${socketPath}`,
      advice: 'stop that daemon (kill it) so that this client starts one of its own release, or use another socket',
    }),
  };
}

/**
 * What `initialize` answered, once the server has shown it speaks PROTOCOL_VERSION: a refusal of
 * that version (-32602 naming the versions it supports), or an answer naming another, becomes a
 * ProtocolVersionMismatch saying which server it was and what to do.
 * @param {Promise<any>} reply `initialize`'s reply
 * @param {{where: string, advice: string}} server
 */
async function checkedInitialize(reply, server) {
  let info;
  try {
    info = await reply;
  } catch (error) {
    const data = error instanceof ProtocolError ? /** @type {any} */ (error.data) : undefined;
    if (Array.isArray(data?.supported) && 'requested' in data) throw versionMismatch(server, data.supported, undefined);
    throw error;
  }
  if (info?.protocol_version !== PROTOCOL_VERSION) {
    const spoken = info?.protocol_version === undefined ? [] : [info.protocol_version];
    const release = info?.server?.version;
    throw versionMismatch(server, spoken, typeof release === 'string' ? release : undefined);
  }
  return info;
}

/**
 * @param {{where: string, advice: string}} server
 * @param {unknown[]} spoken the protocol versions the server named
 * @param {string | undefined} serverVersion
 */
function versionMismatch({ where, advice }, spoken, serverVersion) {
  const theirs = spoken.length ? spoken.join(' or ') : 'none it names';
  const release = serverVersion ? ` (volley ${serverVersion})` : '';
  return new ProtocolVersionMismatch(
    `${where}${release} speaks protocol version ${theirs}; this client (volley-node ${VERSION}) ` +
      `speaks protocol version ${PROTOCOL_VERSION}: ${advice}`,
    { clientProtocol: PROTOCOL_VERSION, serverProtocols: spoken, serverVersion },
  );
}

/**
 * What a shared daemon's session is told of the host's environment (`initialize`'s
 * `environment`): the values, among those set, of OPENAI_API_KEY, ANTHROPIC_API_KEY,
 * OPENAI_BASE_URL, ANTHROPIC_BASE_URL and of every `api_key_env` the providers name.
 * @param {NodeJS.ProcessEnv} env
 * @param {Array<Record<string, any> | undefined>} providerSets in wire form
 * @returns {Record<string, string>}
 */
function sessionEnvironment(env, providerSets) {
  const names = new Set(FORWARDED_ENVIRONMENT);
  for (const providers of providerSets) {
    for (const config of Object.values(isPlainObject(providers) ? providers : {})) {
      if (typeof config?.api_key_env === 'string' && config.api_key_env) names.add(config.api_key_env);
    }
  }
  /** @type {Record<string, string>} */
  const environment = {};
  for (const name of names) {
    const value = env[name];
    if (typeof value === 'string') environment[name] = value;
  }
  return environment;
}

/**
 * The providers of a `--config` file (`configPath`), read when a shared session starts: the
 * session looks their `api_key_env` up in the environment it is sent, like the client's own
 * providers'. `undefined` when there is no file or it cannot be read (volley reports that).
 * @param {string | undefined} configPath
 * @returns {Record<string, any> | undefined}
 */
function configFileProviders(configPath) {
  if (!configPath) return undefined;
  try {
    return JSON.parse(readFileSync(configPath, 'utf8'))?.providers;
  } catch {
    return undefined;
  }
}

/**
 * A client of volley. Cheap to create: the session starts on first use (or with `start()`) and
 * is started again after a crash. By default it is a sidecar process of this Volley's own,
 * stopped by `close()`; with `shared: true` or `socket` it is a connection to a daemon that
 * other hosts share, which `close()` leaves running.
 */
export class Volley {
  /** @type {Connection | undefined} */
  #sidecar;
  /** @type {Promise<Connection> | undefined} */
  #starting;
  /** @type {Launcher} */
  #launcher;
  /** @type {Promise<void> | undefined} */
  #closing;
  #closed = false;
  /** Crashes since a sidecar last answered a request. */
  #crashesInARow = 0;
  /** @type {SidecarCrashed | undefined} */
  #lastCrash;
  /** @type {Record<string, any> | undefined} */
  #providers;
  /** @type {string | undefined} */
  #defaultProvider;
  /** @type {any} */
  #info;
  #options;

  /**
   * @param {import('../index.js').VolleyOptions} [options]
   */
  constructor(options = {}) {
    checkOptions('new Volley()', options, VOLLEY_OPTIONS);
    const { shared, socket } = options;
    if (shared !== undefined && typeof shared !== 'boolean') throw new TypeError('new Volley(): shared must be true or false');
    if (socket !== undefined && (typeof socket !== 'string' || socket === '')) {
      throw new TypeError('new Volley(): socket must be the path of a Unix socket (a non-empty string)');
    }
    if (shared === false && socket !== undefined) {
      throw new TypeError('new Volley(): socket connects to a shared daemon, which shared: false refuses; drop one of the two');
    }
    this.#options = { ...options, maxRestarts: options.maxRestarts ?? 3 };
    if (shared || socket !== undefined) {
      const path = resolve(socket ?? defaultSocketPath(volleyEnvironment(options.env)));
      checkSocketPath(path);
      this.#launcher = sharedLauncher(this.#options, path);
    } else {
      this.#launcher = stdioLauncher(this.#options);
    }
    this.#providers = options.providers ? providersToWire(options.providers) : undefined;
    this.#defaultProvider = options.defaultProvider;
  }

  /**
   * The process id of the volley this Volley talks to (its sidecar, or the shared daemon), or
   * `undefined` when it has no session.
   */
  get pid() {
    return this.#sidecar?.isEnded === false ? this.#sidecar.pid : undefined;
  }

  /** The shared daemon's socket path (`undefined` in stdio mode). */
  get socketPath() {
    return this.#launcher.socketPath;
  }

  /**
   * What `initialize` answered (camelCase): `protocolVersion`, `server`, `capabilities`,
   * `limits`; `undefined` before the sidecar has started.
   */
  get info() {
    return this.#info;
  }

  /** Starts the sidecar now (otherwise the first call does). Resolves with `info`. */
  async start() {
    await this.#ensureStarted();
    return this.#info;
  }

  /**
   * Runs a batch and resolves with its values in input order; the array also has `outcomes`
   * (each item's `Outcome`) and `stats` (the batch's stats).
   *
   * With `returnExceptions: true` a failed item's slot holds its typed error (a `VolleyError`
   * subclass) and the call resolves. With `returnExceptions: false` (the default) the batch
   * runs with the protocol's `fail_fast` unless `failFast: false` is passed, as in the Python
   * client: the call rejects as soon as the first item fails (in time, like `Promise.all`) and
   * the sidecar cancels the rest. With `failFast: false` the whole batch runs and the call
   * rejects with the failure of the *lowest input index*. Either way the thrown error carries
   * every slot in `err.results`.
   *
   * `onDelta` gets the chunks (`delta`, `reset`) of the streamed items (`stream: true`) as they
   * come, tagged with the item's `index`.
   *
   * @param {Iterable<import('../index.js').ItemLike>} items
   * @param {import('../index.js').GatherOptions} [options]
   */
  async gather(items, options = {}) {
    if (isPlainObject(options) && 'deltas' in options) {
      throw new TypeError('gather(): deltas is an asCompleted() option (it yields the chunks); pass onDelta: (chunk) => ... to get them here');
    }
    const { returnExceptions = false, signal, onProgress, onDelta, failFast, ...batch } = options;
    const params = batchParams(
      items,
      { ...batch, failFast: failFast ?? !returnExceptions, progress: Boolean(onProgress) },
      this.#options.defaultModel,
    );
    if (signal?.aborted) throw abortError(signal);
    // Like Promise.all([]): nothing to run (the sidecar would refuse an empty batch).
    if (params.requests.length === 0) return resultsFromWire([]);
    /** @type {any} */
    let result;
    try {
      result = await this.#invoke('gather', params, {
        signal,
        cancellable: true,
        onNotification: notificationRouter(onProgress, onDelta && deltaRouter(params.requests, onDelta)),
      });
    } catch (error) {
      if (error instanceof ProtocolError && error.code === REQUEST_FAILED && isPlainObject(error.data)) {
        const data = /** @type {any} */ (error.data);
        const results = resultsFromWire(data.results, data.stats);
        if (returnExceptions) return results;
        const first = results[data.index] instanceof VolleyError ? results[data.index] : itemError(data.error, { index: data.index });
        throw withResults(first, results);
      }
      throw error;
    }
    const results = resultsFromWire(result?.results, result?.stats);
    if (!returnExceptions) {
      const first = results.find((r) => r instanceof VolleyError);
      if (first) throw withResults(first, results);
    }
    return results;
  }

  /**
   * Runs a batch and yields each item's outcome as it finishes. Leaving the loop early
   * (`break`, `return`, a throw) cancels what is left. Item failures are outcomes with
   * `ok: false`, never throws; the iterator throws only for an abort (`AbortError`), a crash
   * (`SidecarCrashed`), a protocol error, or the sidecar cancelling the batch (`Cancelled`).
   *
   * Streamed items (`stream: true`): with `deltas: true` the loop also yields their chunks as
   * they come (`{type: 'delta' | 'reset', index, ...}`, each before its item's outcome), and
   * every outcome then has `type: 'outcome'`; `onDelta` gets the chunks as a callback instead.
   * Without either, chunks are dropped and the loop is as for unstreamed items.
   *
   * The generator returned has a read-only `stats`: the batch's stats (as `gather`'s
   * `results.stats`: `costUsd`, `budgetExceeded`, ...), set when the sidecar answers the
   * batch (after its last outcome), so at the latest when the loop has ended, early or not;
   * `undefined` before, and after a crash or an abort that left none.
   *
   * @param {Iterable<import('../index.js').ItemLike>} items
   * @param {import('../index.js').AsCompletedOptions} [options]
   * @returns {AsyncGenerator<any, void, undefined> & {readonly stats: import('../index.js').BatchStats | undefined}}
   */
  asCompleted(items, options = {}) {
    /** @type {import('../index.js').BatchStats | undefined} */
    let stats;
    const run = this.#asCompleted(items, options, (batchStats) => (stats = batchStats));
    return /** @type {any} */ (Object.defineProperty(run, 'stats', { get: () => stats, enumerable: true, configurable: true }));
  }

  /**
   * `asCompleted`'s generator; `onStats` gets the batch's stats when the sidecar answers.
   * @param {Iterable<import('../index.js').ItemLike>} items
   * @param {import('../index.js').AsCompletedOptions} options
   * @param {(stats: import('../index.js').BatchStats) => void} onStats
   * @returns {AsyncGenerator<any, void, undefined>}
   */
  async *#asCompleted(items, options, onStats) {
    const { signal: userSignal, onProgress, onDelta, deltas = false, ...batch } = options;
    if (typeof deltas !== 'boolean') throw new TypeError('asCompleted(): deltas must be true or false');
    const params = batchParams(items, { ...batch, progress: Boolean(onProgress) }, this.#options.defaultModel);
    if (userSignal?.aborted) throw abortError(userSignal);
    if (params.requests.length === 0) {
      // Like gather([]): nothing ran (the sidecar would refuse an empty batch), zero stats.
      onStats(batchStatsFromWire(undefined));
      return;
    }
    // Leaving the loop early aborts through our own controller; the caller's signal through theirs.
    const stop = new AbortController();
    const signal = userSignal ? anySignal(userSignal, stop.signal) : stop.signal;
    const queue = new OutcomeQueue();
    const others = notificationRouter(
      onProgress,
      onDelta || deltas
        ? deltaRouter(params.requests, (chunk) => {
            onDelta?.(chunk);
            if (deltas) queue.push(chunk);
          })
        : undefined,
    );
    let settled = false;
    const done = this.#invoke('as_completed', params, {
      signal,
      cancellable: true,
      onNotification: (method, wire) => {
        if (method === 'item') queue.push(deltas ? { type: 'outcome', ...outcomeFromWire(wire) } : outcomeFromWire(wire));
        else others?.(method, wire);
      },
    }).then(
      (result) => {
        settled = true;
        onStats(batchStatsFromWire(result?.stats));
        queue.finish();
      },
      (error) => {
        settled = true;
        const stats = batchStatsOfError(error);
        if (stats) onStats(stats);
        // With failFast the request answers -32803 after every outcome, the failed one and
        // the cancelled ones, has been yielded: the loop simply ends.
        const failedFast = error instanceof ProtocolError && error.code === REQUEST_FAILED;
        queue.finish(failedFast ? undefined : error);
      },
    );
    try {
      for (;;) {
        const entry = await queue.next();
        if (entry.end) {
          if (entry.error !== undefined) throw entry.error;
          return;
        }
        // After an abort, outcomes still arriving are the cancelled items: the caller asked
        // to stop, so only the AbortError is delivered.
        if (signal.aborted) continue;
        yield entry.item;
      }
    } finally {
      if (!settled) {
        stop.abort(new Error('asCompleted loop exited early'));
        await done;
      }
    }
  }

  /**
   * Runs one item and resolves with its value; a failure rejects with the item's typed error.
   * @param {import('../index.js').ItemLike} item
   * @param {{signal?: AbortSignal}} [options]
   */
  async call(item, options = {}) {
    checkOptions('call()', options, SIGNAL_ONLY);
    const { signal } = options;
    const wire = itemToWire(item, this.#options.defaultModel);
    const value = await this.#call(wire, signal, undefined);
    try {
      return valueFromWire(value);
    } catch (error) {
      // An embedding that cannot be decoded: the item's failure, named as the item's errors are.
      if (error instanceof ProviderError && isPlainObject(wire)) error.key = wire.key;
      throw error;
    }
  }

  /**
   * The vectors of `texts`, in order: one `Float32Array` per text (a string alone is one text).
   * The texts are sent `batchSize` to an embeddings request (default 256), and the requests run
   * as one batch, under the provider's limits and retries like any other.
   *
   * Options: `embed()`'s (`model`, `provider`, `dimensions`, `encodingFormat`, `user`,
   * `maxRetries`, `mock`, `extraBody`) for every request, and `batchSize`, `concurrency`,
   * `timeout` (seconds for the whole batch, as `gather`'s), `priority`, `signal`, `onProgress`
   * (counting requests). Each request's `key` is `"start:stop"`, the slice of `texts` it holds.
   *
   * Errors: the first request to fail rejects the call with its typed error, as `call()` does,
   * once the sidecar has cancelled the others (the batch runs `failFast`); its `key` names the
   * texts it held (`"100:200"`), its `index` the request's position.
   *
   * The requests run through `as_completed`, not `gather`: each reply is its own line, decoded
   * as it arrives, where one `gather` reply would hold every vector on one line (10,000 vectors
   * of 1,536 floats are 82 MB of base64; about 65,000 of them pass V8's longest string).
   *
   * @param {string | ReadonlyArray<string | number[]>} texts
   * @param {import('../index.js').EmbedTextsOptions} [options]
   * @returns {Promise<Float32Array[]>}
   */
  async embed(texts, options = {}) {
    const list = typeof texts === 'string' ? [texts] : texts;
    if (!Array.isArray(list)) {
      throw new TypeError(`embed(): texts must be an array of texts (or one text), not ${texts === null ? 'null' : typeof texts}`);
    }
    if (options === null || typeof options !== 'object') throw new TypeError('embed(): options must be an object');
    const { batchSize = EMBED_BATCH_SIZE, concurrency, timeout, priority, signal, onProgress, ...itemOptions } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new TypeError(`embed(): batchSize must be a positive integer, not ${batchSize}`);
    // Not in the types, but a JavaScript caller may pass it.
    if (/** @type {Record<string, unknown>} */ (itemOptions).key !== undefined) {
      throw new TypeError('embed(): each request is keyed "start:stop" (the texts it holds); to key your own, run embed() items with gather()');
    }
    /** @type {any[]} */
    const items = [];
    for (let start = 0; start < list.length; start += batchSize) {
      const stop = Math.min(start + batchSize, list.length);
      items.push(endpointItem('embed', list.slice(start, stop), { ...itemOptions, key: `${start}:${stop}` }, EMBED_BATCH_OPTIONS));
    }
    if (signal?.aborted) throw abortError(signal);
    if (items.length === 0) return [];
    /** @type {Float32Array[][]} */
    const vectors = new Array(items.length);
    /** @type {VolleyError | undefined} */
    let failure;
    let answered = 0;
    // Leaving the loop at the first failure waits for the sidecar to stop the rest.
    for await (const outcome of this.asCompleted(items, { concurrency, timeout, priority, signal, onProgress, failFast: true })) {
      if (!outcome.ok) {
        failure = outcome.error;
        break;
      }
      const got = /** @type {any} */ (outcome.value)?.embeddings;
      const sent = items[outcome.index].request.input.length;
      if (!Array.isArray(got) || got.length !== sent) {
        failure = new ProviderError(
          `the embeddings request for texts[${outcome.key}] answered ${Array.isArray(got) ? `${got.length} vectors` : 'no vectors'} for ${sent} texts`,
          { kind: 'provider_error', attempts: outcome.attempts, index: outcome.index, key: outcome.key },
        );
        break;
      }
      vectors[outcome.index] = got;
      answered += 1;
    }
    if (failure) throw failure;
    // Every request answers once; a missing one would shift every later text's vector.
    if (answered !== items.length) throw new VolleyError(`embed(): ${items.length - answered} of ${items.length} requests never answered`, { kind: 'protocol' });
    return vectors.flat();
  }

  /**
   * Streams one item: `call` with `stream: true` on the item. Returns at once a `ChatStream`,
   * to iterate once with `for await`: it yields the answer's chunks as the provider writes
   * them (`{type: 'delta', text, toolCalls?, index: 0, attempt}`, and `{type: 'reset'}` when a
   * failed attempt's text must be discarded), then ends. `stream.result` resolves with the
   * whole value (`call()`'s, plus `ttftMs`); a failure is thrown by the loop and rejects
   * `result`, with the typed error `call()` rejects with. Leaving the loop early or aborting
   * `signal` cancels the item in the sidecar.
   *
   * `item` is a prompt (a string or a messages array, built with `chat(item, chatOptions)`)
   * or an item (then `options` may only hold `signal`).
   *
   * @param {import('../index.js').ItemLike | Array<Record<string, any>>} item
   * @param {import('../index.js').StreamOptions} [options]
   * @returns {ChatStream}
   */
  stream(item, options = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('stream(): options must be an object');
    const { signal: userSignal, ...chatOptions } = /** @type {Record<string, any>} */ (options);
    /** @type {any} */
    let wire;
    if (typeof item === 'string' || Array.isArray(item)) {
      wire = itemToWire(chat(item, { ...chatOptions, stream: true }), this.#options.defaultModel);
    } else {
      checkOptions('stream()', chatOptions, []);
      wire = itemToWire(item, this.#options.defaultModel);
      if (isPlainObject(wire)) wire = { ...wire, stream: true };
    }
    const stop = new AbortController();
    const signal = userSignal ? anySignal(userSignal, stop.signal) : stop.signal;
    const key = typeof wire?.key === 'string' ? wire.key : undefined;
    return new ChatStream({
      signal,
      stop: (reason) => stop.abort(reason),
      start: async (onChunk) => {
        const value = valueFromWire(
          await this.#call(wire, signal, (method, params) => {
            const chunk = chunkFromWire(method, params, key);
            if (chunk) onChunk(chunk);
          }),
        );
        return isPlainObject(value) ? { ...value, ttftMs: value.ttftMs } : value;
      },
    });
  }

  /**
   * `call`: the wire item's value as sent, or its typed error.
   * @param {unknown} wire
   * @param {AbortSignal | undefined} signal
   * @param {((method: string, params: any) => void) | undefined} onNotification
   */
  async #call(wire, signal, onNotification) {
    try {
      return await this.#invoke('call', wire, { signal, cancellable: true, onNotification });
    } catch (error) {
      if (error instanceof ProtocolError && error.code === REQUEST_FAILED && isPlainObject(error.data)) {
        // The sidecar puts the attempts made next to the error object's fields.
        const data = /** @type {any} */ (error.data);
        throw itemError(data, { key: /** @type {any} */ (wire)?.key, attempts: data.attempts });
      }
      throw error;
    }
  }

  /**
   * Counters since the sidecar started and gauges now (camelCase; model, limiter and provider
   * names are kept as map keys).
   * @param {{signal?: AbortSignal}} [options]
   */
  async stats(options = {}) {
    checkOptions('stats()', options, SIGNAL_ONLY);
    const { signal } = options;
    return statsFromWire(await this.#invoke('stats', undefined, { signal }));
  }

  /**
   * Adds or replaces providers and sets the default provider. Remembered, so a restarted
   * sidecar gets the same configuration.
   * @param {{providers?: Record<string, import('../index.js').ProviderConfig>, defaultProvider?: string}} config
   * @param {{signal?: AbortSignal}} [options]
   * @returns {Promise<{providers: string[], defaultProvider: string | null}>}
   */
  async configure(config, options = {}) {
    checkOptions('configure()', config, ['providers', 'defaultProvider']);
    checkOptions('configure()', options, SIGNAL_ONLY);
    const { signal } = options;
    const providers = config.providers ? providersToWire(config.providers) : undefined;
    const params = {};
    if (providers) Object.assign(params, { providers });
    if (config.defaultProvider !== undefined) Object.assign(params, { default_provider: config.defaultProvider });
    Object.assign(params, this.#launcher.configureParams(providers));
    const result = camelDeep(await this.#invoke('configure', params, { signal }));
    if (providers) this.#providers = { ...this.#providers, ...providers };
    if (config.defaultProvider !== undefined) this.#defaultProvider = config.defaultProvider;
    return result;
  }

  /**
   * Resolves when the sidecar answers (starting it if needed).
   * @param {{signal?: AbortSignal}} [options]
   */
  async ping(options = {}) {
    checkOptions('ping()', options, SIGNAL_ONLY);
    const { signal } = options;
    await this.#invoke('ping', undefined, { signal });
  }

  /**
   * Stops the sidecar: `shutdown` (by default letting running work finish), `exit`, then a kill
   * if it has not exited within `timeout` seconds. Later calls reject. Safe to call twice.
   * In shared mode the same ends this connection's session (the connection is dropped instead
   * of killed); the daemon keeps running for its other hosts, and exits on its own once idle.
   * @param {{mode?: 'drain' | 'cancel', timeout?: number}} [options]
   */
  close(options = {}) {
    try {
      checkOptions('close()', options, ['mode', 'timeout']);
    } catch (error) {
      return Promise.reject(error);
    }
    const { mode = 'drain', timeout = 10 } = options;
    this.#closed = true;
    this.#closing ??= (async () => {
      try {
        await this.#starting;
      } catch {
        // a failed start leaves nothing to close
      }
      await this.#sidecar?.close(mode, timeout * 1000);
    })();
    return this.#closing;
  }

  // -------------------------------------------------------------------------------------------

  /** @returns {Promise<Connection>} */
  #ensureStarted() {
    if (this.#closed) return Promise.reject(new VolleyError('this Volley is closed', { kind: 'closed' }));
    if (this.#sidecar && !this.#sidecar.isEnded && !this.#sidecar.isRetiring) return Promise.resolve(this.#sidecar);
    this.#starting ??= this.#connect().finally(() => (this.#starting = undefined));
    return this.#starting;
  }

  /** Starts a session: a new sidecar, or a new connection to the shared daemon; then `initialize`. */
  async #connect() {
    const maxRestarts = this.#options.maxRestarts;
    if (this.#lastCrash && this.#crashesInARow > maxRestarts) {
      throw new SidecarCrashed(
        `volley crashed ${this.#crashesInARow} times in a row; not restarting it (maxRestarts: ${maxRestarts}). Last: ${this.#lastCrash.message}`,
        { exitCode: this.#lastCrash.exitCode, signal: this.#lastCrash.signal, stderr: this.#lastCrash.stderr },
      );
    }
    for (let attempt = 1; ; attempt++) {
      let transport;
      try {
        transport = await this.#launcher.open();
      } catch (error) {
        // The shared daemon could not be reached or started.
        if (error instanceof SidecarCrashed) this.#crashed(error);
        throw error;
      }
      try {
        return await this.#initialize(transport);
      } catch (error) {
        if (!(error instanceof SidecarCrashed)) throw error;
        // A daemon can close its socket just as we connect (it was killed, or is exiting idle):
        // the session is lost before `initialize` answered. Connect again (starting a daemon if
        // none is left); a stdio sidecar that dies that early is broken, not unlucky.
        if (this.#launcher.socketPath !== undefined && attempt < HANDSHAKE_ATTEMPTS && !this.#closed) continue;
        this.#crashed(error);
        throw error;
      }
    }
  }

  /**
   * A session on `transport`, once `initialize` answered.
   * @param {import('./rpc.js').Transport} transport
   * @returns {Promise<Connection>}
   */
  async #initialize(transport) {
    let ready = false;
    const sidecar = new Connection(transport, {
      onStderr: this.#options.onStderr,
      onEnd: (ended, crash) => {
        if (this.#sidecar === ended) this.#sidecar = undefined;
        // A session lost during `initialize` is counted (or retried) by #connect.
        if (crash && ready) this.#crashed(crash);
      },
    });
    this.#sidecar = sidecar;
    /** @type {Record<string, any>} */
    const params = { protocol_version: PROTOCOL_VERSION, client: CLIENT };
    if (this.#providers) params.providers = this.#providers;
    if (this.#defaultProvider !== undefined) params.default_provider = this.#defaultProvider;
    Object.assign(params, this.#launcher.initializeParams(this.#providers));
    try {
      const info = await checkedInitialize(sidecar.request('initialize', params).promise, this.#launcher.describe(transport));
      this.#info = camelDeep(info);
      this.#launcher.initialized(transport, info);
      const maxLineBytes = info?.limits?.max_line_bytes;
      if (typeof maxLineBytes === 'number') sidecar.maxLineBytes = maxLineBytes;
      ready = true;
    } catch (error) {
      // A configuration or protocol version volley refuses: do not leave the session half set
      // up (a sidecar is killed; a shared daemon only loses this connection), nor let the next
      // call use it before it has ended: that call starts a new one.
      if (this.#sidecar === sidecar) this.#sidecar = undefined;
      sidecar.abort();
      throw error;
    }
    return sidecar;
  }

  /** @param {SidecarCrashed} crash */
  #crashed(crash) {
    this.#crashesInARow += 1;
    this.#lastCrash = crash;
  }

  /**
   * Sends one request and waits for its reply, starting the sidecar if needed.
   *
   * With a signal: if it fires, a cancellable request gets `cancel {id}` and the promise rejects
   * with `AbortError` once the sidecar's reply (normally -32800, with what finished) has been
   * consumed; any other request stops being waited for at once.
   *
   * @param {string} method
   * @param {unknown} params
   * @param {{signal?: AbortSignal, cancellable?: boolean, onNotification?: (method: string, params: any) => void}} [options]
   */
  async #invoke(method, params, { signal, cancellable = false, onNotification } = {}) {
    if (signal?.aborted) throw abortError(signal);
    const sidecar = await this.#ensureStarted();
    if (signal?.aborted) throw abortError(signal);
    const { id, promise } = sidecar.request(method, params, onNotification);
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      if (cancellable) sidecar.notify('cancel', { id });
      else sidecar.forget(id, abortError(/** @type {AbortSignal} */ (signal)));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await promise;
      this.#crashesInARow = 0;
      if (aborted) throw abortError(/** @type {AbortSignal} */ (signal));
      return result;
    } catch (error) {
      if (error instanceof ProtocolError) this.#crashesInARow = 0;
      if (aborted && signal) {
        if (error instanceof AbortError) throw error;
        throw abortError(signal, isCancelledReply(error) ? error.data : undefined);
      }
      if (isCancelledReply(error)) {
        // Only a signal makes the sidecar cancel work we did not cancel (our own close() does
        // too, but then nothing more is sent): it is exiting, and requests sent to it from now
        // on might never be read. Later calls start a new one.
        sidecar.retire();
        throw cancelledByServer(error);
      }
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

if (typeof Symbol.asyncDispose === 'symbol') {
  // `await using v = new Volley()` closes the sidecar at the end of the block.
  Object.defineProperty(Volley.prototype, Symbol.asyncDispose, {
    value: function asyncDispose() {
      return this.close();
    },
    writable: true,
    configurable: true,
  });
}

/**
 * The batch stats an error of a batch request carries, if any: a fail_fast reply's (`data.stats`),
 * an `AbortError`'s, or those of the results of a batch the sidecar cancelled.
 * @param {unknown} error
 * @returns {import('../index.js').BatchStats | undefined}
 */
function batchStatsOfError(error) {
  if (error instanceof ProtocolError) {
    const data = /** @type {any} */ (error.data);
    return isPlainObject(data) && isPlainObject(data.stats) ? batchStatsFromWire(data.stats) : undefined;
  }
  if (error instanceof AbortError) return error.stats;
  return /** @type {any} */ (error)?.results?.stats;
}

/**
 * Routes a batch's `progress` notifications, and its `delta` and `reset` ones.
 * @param {((progress: import('../index.js').Progress) => void) | undefined} onProgress
 * @param {((method: string, params: any) => void) | undefined} deltas from `deltaRouter`
 * @returns {((method: string, params: any) => void) | undefined}
 */
function notificationRouter(onProgress, deltas) {
  if (!onProgress && !deltas) return undefined;
  return (method, params) => {
    if (method === 'progress') onProgress?.({ done: params.done, failed: params.failed, total: params.total });
    else deltas?.(method, params);
  };
}

/**
 * Turns a batch's `delta` and `reset` notifications into chunks carrying their item's key.
 * @param {unknown[]} requests the batch's wire items
 * @param {(chunk: import('../index.js').StreamChunk) => void} onChunk
 * @returns {(method: string, params: any) => void}
 */
function deltaRouter(requests, onChunk) {
  return (method, params) => {
    const item = /** @type {any} */ (requests[params?.index]);
    const chunk = chunkFromWire(method, params, typeof item?.key === 'string' ? item.key : undefined);
    if (chunk) onChunk(chunk);
  };
}
