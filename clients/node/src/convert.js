// The one place where the camelCase API meets the snake_case wire: items, provider
// configuration, outcomes, values and stats.

import { itemError } from './errors.js';

/** @param {unknown} value @returns {value is Record<string, any>} */
export function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** `maxRetries` → `max_retries`, `baseURL` → `base_url`; snake_case names are unchanged. */
export function snakeCase(/** @type {string} */ name) {
  return name.replace(/[A-Z]+/g, (caps, offset) => (offset > 0 ? '_' : '') + caps.toLowerCase());
}

/** `latency_ms` → `latencyMs`. */
export function camelCase(/** @type {string} */ name) {
  return name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

/**
 * Renames an object's own keys (one level), dropping `undefined` values.
 * @param {Record<string, any>} object
 * @param {(name: string) => string} rename
 */
function renameKeys(object, rename) {
  /** @type {Record<string, any>} */
  const out = {};
  for (const [name, value] of Object.entries(object)) {
    if (value !== undefined) out[rename(name)] = value;
  }
  return out;
}

/**
 * Renames keys at every level of plain objects and arrays.
 * @param {any} value
 * @param {(name: string) => string} rename
 * @returns {any}
 */
function renameKeysDeep(value, rename) {
  if (Array.isArray(value)) return value.map((v) => renameKeysDeep(v, rename));
  if (!isPlainObject(value)) return value;
  /** @type {Record<string, any>} */
  const out = {};
  for (const [name, v] of Object.entries(value)) {
    if (v !== undefined) out[rename(name)] = renameKeysDeep(v, rename);
  }
  return out;
}

/** A wire object with no maps inside (batch stats, initialize result) in camelCase. */
export function camelDeep(/** @type {any} */ value) {
  return renameKeysDeep(value, camelCase);
}

/**
 * Edit distance between two names (insertions, deletions, substitutions).
 * @param {string} a
 * @param {string} b
 */
function editDistance(a, b) {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}

/**
 * ` (did you mean "x"?)` for the known name nearest to `name` (compared in snake_case, so
 * `maxToken` finds `maxTokens`), or `''` when none is near.
 * @param {string} name
 * @param {Iterable<string>} known
 */
export function didYouMean(name, known) {
  const wanted = snakeCase(name);
  let best = '';
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(wanted, snakeCase(candidate));
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best && bestDistance <= Math.max(1, Math.floor(wanted.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

/**
 * Throws a `TypeError` naming the first option that is not in `known`, and the closest one
 * that is: options are never silently ignored.
 * @param {string} where e.g. `call()`
 * @param {unknown} options
 * @param {readonly string[]} known
 */
export function checkOptions(where, options, known) {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      throw new TypeError(`${where}: unknown option "${name}"${didYouMean(name, known)} (known: ${known.join(', ')})`);
    }
  }
}

/** The fields of a protocol item besides `request` (docs/protocol.md, "Items and outcomes"). */
export const ITEM_FIELDS = Object.freeze(['key', 'provider', 'timeout', 'max_retries', 'format', 'raw', 'stream']);
const ITEM_KEYS = new Set(['request', ...ITEM_FIELDS]);

/**
 * The request-body parameters `chat()` takes as options (in snake_case; camelCase is
 * converted): OpenAI's chat-completions fields, the Anthropic ones a `format: 'native'` body
 * may use, and the mock provider's script. Any other body field goes in `extraBody`, so a
 * misspelt item option (`timout`) is an error instead of a field the provider ignores.
 */
export const REQUEST_PARAMS = Object.freeze(
  new Set([
    'audio', 'frequency_penalty', 'function_call', 'functions', 'logit_bias', 'logprobs',
    'max_completion_tokens', 'max_tokens', 'metadata', 'modalities', 'n', 'parallel_tool_calls',
    'prediction', 'presence_penalty', 'prompt_cache_key', 'reasoning_effort', 'response_format',
    'safety_identifier', 'seed', 'service_tier', 'stop', 'store', 'temperature', 'tool_choice',
    'tools', 'top_logprobs', 'top_p', 'user', 'verbosity', 'web_search_options',
    'stop_sequences', 'thinking', 'top_k',
    'mock',
  ]),
);

/** Body fields that are known but would do nothing: say why instead of sending them. */
const IGNORED_PARAMS = {
  stream_options:
    'volley asks for the stream options it needs (usage included) when an item streams (stream: true); ' +
    'put the field in extraBody to send it anyway',
};

/** `chat()`'s own options (item options in camelCase, then the ones that build the body). */
const CHAT_OPTIONS = ['key', 'provider', 'timeout', 'maxRetries', 'format', 'raw', 'stream', 'model', 'system', 'extraBody'];

// ---------------------------------------------------------------------------------------------
// Toward the sidecar

/**
 * One provider's configuration on the wire. Field names may be given in either case;
 * provider names, model names (`models`) and `headers` are kept exactly as written.
 * @param {Record<string, any>} config
 */
function providerToWire(config) {
  if (!isPlainObject(config)) return config;
  /** @type {Record<string, any>} */
  const out = {};
  for (const [name, value] of Object.entries(config)) {
    if (value === undefined) continue;
    const field = snakeCase(name);
    if (field === 'headers') {
      out[field] = value;
    } else if (field === 'models' && isPlainObject(value)) {
      /** @type {Record<string, any>} */
      const models = {};
      for (const [model, settings] of Object.entries(value)) models[model] = renameKeysDeep(settings, snakeCase);
      out[field] = models;
    } else {
      out[field] = renameKeysDeep(value, snakeCase);
    }
  }
  return out;
}

/**
 * The `providers` object of `initialize`/`configure`.
 * @param {Record<string, any> | undefined} providers
 */
export function providersToWire(providers) {
  if (!isPlainObject(providers)) return providers;
  /** @type {Record<string, any>} */
  const out = {};
  for (const [name, config] of Object.entries(providers)) out[name] = providerToWire(config);
  return out;
}

/**
 * Builds an item: one chat-completions call.
 *
 * `prompt` is the user's message, or a whole `messages` array. `system` is prepended as a
 * system message. `key`, `provider`, `timeout` (seconds, retries included), `maxRetries`,
 * `format`, `raw` and `stream` (token streaming: `delta` notifications before the outcome) are
 * item options; `model` and the other options go into the request body
 * with their names in snake_case (`maxTokens` → `max_tokens`), and must be known request
 * parameters (`REQUEST_PARAMS`: `temperature`, `responseFormat`, `tools`, the mock provider's
 * `mock` script, ...). `extraBody` is merged into the body as given, for any other field.
 * `undefined` options are left out.
 *
 * @throws {TypeError} for any other option, naming the closest known one: a typo (`timout`)
 *   must not become a body field the provider ignores.
 * @param {string | Array<Record<string, any>>} prompt
 * @param {Record<string, any>} [options]
 * @returns {import('../index.js').Item}
 */
export function chat(prompt, options = {}) {
  const { model, provider, system, key, timeout, maxRetries, max_retries, format, raw, stream, extraBody, extra_body, ...params } =
    options;
  for (const name of Object.keys(params)) {
    const field = snakeCase(name);
    if (REQUEST_PARAMS.has(field)) continue;
    if (Object.hasOwn(IGNORED_PARAMS, field)) {
      if (!params[name]) continue; // e.g. streamOptions: undefined
      throw new TypeError(`chat(): option "${name}" is not supported: ${IGNORED_PARAMS[/** @type {keyof typeof IGNORED_PARAMS} */ (field)]}`);
    }
    const known = [...CHAT_OPTIONS, ...[...REQUEST_PARAMS].map(camelCase)];
    throw new TypeError(
      `chat(): unknown option "${name}"${didYouMean(name, known)}. Item options are key, provider, timeout, ` +
        'maxRetries, format, raw, stream; other options must be request-body parameters (REQUEST_PARAMS: maxTokens, ' +
        'temperature, tools, ...); put any other body field in extraBody: { ... }',
    );
  }
  /** @type {Array<Record<string, any>>} */
  const messages = Array.isArray(prompt) ? [...prompt] : [{ role: 'user', content: String(prompt) }];
  if (system !== undefined) messages.unshift({ role: 'system', content: system });
  /** @type {Record<string, any>} */
  const request = model === undefined ? { messages } : { model, messages };
  for (const [name, value] of Object.entries(params)) {
    const field = snakeCase(name);
    if (value === undefined || Object.hasOwn(IGNORED_PARAMS, field)) continue;
    // The mock script is Volley's own and snake_case on the wire; accept it in either case.
    request[field] = field === 'mock' && isPlainObject(value) ? renameKeys(value, snakeCase) : value;
  }
  const extra = extraBody ?? extra_body;
  if (extra !== undefined) {
    if (!isPlainObject(extra)) throw new TypeError('chat(): extraBody must be a plain object');
    Object.assign(request, extra);
  }
  return /** @type {any} */ (
    renameKeys(
      // `stream: false` asks for what happens anyway: left out, like `undefined`.
      { key, provider, request, timeout, max_retries: maxRetries ?? max_retries, format, raw, stream: stream === false ? undefined : stream },
      (n) => n,
    )
  );
}

/**
 * An item as the sidecar wants it: a string is `chat(string)`; an object's own fields are put
 * in snake_case (`maxRetries` → `max_retries`) while `request` is sent untouched, except that a
 * missing `request.model` is filled with `defaultModel` when one is set. Anything else is sent
 * as-is, so the sidecar can report it as an `invalid_request` outcome for its index.
 *
 * @param {unknown} item
 * @param {string | undefined} defaultModel
 */
export function itemToWire(item, defaultModel) {
  if (typeof item === 'string') item = chat(item);
  if (!isPlainObject(item)) return item;
  const out = renameKeys(item, snakeCase);
  for (const name of Object.keys(out)) {
    if (!ITEM_KEYS.has(name)) {
      const given = Object.keys(item).find((n) => snakeCase(n) === name) ?? name;
      throw new TypeError(
        `an item has no field "${given}"${didYouMean(given, ['request', 'key', 'provider', 'timeout', 'maxRetries', 'format', 'raw', 'stream'])}; ` +
          'its fields are request, key, provider, timeout, maxRetries (max_retries), format, raw, stream (request-body fields go inside request)',
      );
    }
  }
  if (defaultModel !== undefined && isPlainObject(out.request) && out.request.model === undefined) {
    out.request = { ...out.request, model: defaultModel };
  }
  return out;
}

const BATCH_OPTIONS = new Set(['concurrency', 'timeout', 'failFast', 'priority', 'progress']);

/**
 * Params of `gather` / `as_completed`.
 * @param {Iterable<unknown>} items
 * @param {{concurrency?: number, timeout?: number, failFast?: boolean, priority?: string, progress?: boolean}} options
 * @param {string | undefined} defaultModel
 */
export function batchParams(items, options, defaultModel) {
  if (items === null || typeof items !== 'object' || typeof (/** @type {any} */ (items)[Symbol.iterator]) !== 'function') {
    throw new TypeError('items must be an array (or iterable) of items');
  }
  for (const name of Object.keys(options)) {
    if (!BATCH_OPTIONS.has(name)) {
      const known = [...BATCH_OPTIONS, 'returnExceptions', 'signal', 'onProgress', 'onDelta', 'deltas'];
      throw new TypeError(`unknown batch option "${name}"${didYouMean(name, known)} (known: ${known.join(', ')})`);
    }
  }
  const requests = Array.from(items, (item) => itemToWire(item, defaultModel));
  return renameKeys(
    {
      requests,
      concurrency: options.concurrency,
      timeout: options.timeout,
      fail_fast: options.failFast || undefined,
      priority: options.priority,
      progress: options.progress || undefined,
    },
    (n) => n,
  );
}

// ---------------------------------------------------------------------------------------------
// From the sidecar

/**
 * An outcome's `value` in camelCase: `text`, `finishReason`, `model`, `usage {inputTokens,
 * outputTokens}`, `toolCalls` and `raw` (both as the provider sent them).
 * @param {any} value
 */
export function valueFromWire(value) {
  if (!isPlainObject(value)) return value;
  /** @type {Record<string, any>} */
  const out = {};
  for (const [name, v] of Object.entries(value)) {
    out[camelCase(name)] = name === 'usage' ? renameKeysDeep(v, camelCase) : v;
  }
  return out;
}

/**
 * @param {any} wire an outcome, or an `item` notification's params
 * @param {any} [built] the value or error already built from it (so a batch's slot and its
 *   outcome hold the same error object)
 * @returns {import('../index.js').Outcome}
 */
export function outcomeFromWire(wire, built) {
  const ok = wire?.ok === true;
  const meta = { attempts: wire?.attempts ?? 0, index: wire?.index, key: wire?.key };
  return {
    index: wire?.index,
    key: wire?.key,
    provider: wire?.provider,
    ok,
    value: ok ? (built ?? valueFromWire(wire.value)) : undefined,
    error: ok ? undefined : (built ?? itemError(wire?.error, meta)),
    attempts: meta.attempts,
    latencyMs: wire?.latency_ms,
    queuedMs: wire?.queued_ms,
    ttftMs: wire?.ttft_ms,
  };
}

/**
 * A `delta` or `reset` notification's params as a chunk (`undefined` for any other method).
 * Every chunk has a string `text` (`''` when the piece carried none, and for a reset), so that
 * writing `chunk.text` always works; `toolCalls` only when the piece carried some.
 * @param {string} method
 * @param {any} params
 * @param {string | undefined} [key] the item's key (the notification does not carry it)
 * @returns {import('../index.js').StreamChunk | undefined}
 */
export function chunkFromWire(method, params, key) {
  if (method === 'delta') {
    return {
      type: 'delta',
      index: params?.index,
      key,
      attempt: params?.attempt,
      text: typeof params?.text === 'string' ? params.text : '',
      toolCalls: Array.isArray(params?.tool_calls)
        ? params.tool_calls.map((/** @type {any} */ piece) => (isPlainObject(piece) ? renameKeys(piece, camelCase) : piece))
        : undefined,
    };
  }
  if (method === 'reset') return { type: 'reset', index: params?.index, key, attempt: params?.attempt, text: '' };
  return undefined;
}

/**
 * A batch's `stats` in camelCase, zeros for what is missing (an empty batch has none).
 * @param {any} stats
 * @returns {import('../index.js').BatchStats}
 */
export function batchStatsFromWire(stats) {
  const usage = isPlainObject(stats?.usage) ? stats.usage : {};
  return {
    succeeded: stats?.succeeded ?? 0,
    failed: stats?.failed ?? 0,
    cancelled: stats?.cancelled ?? 0,
    elapsedMs: stats?.elapsed_ms ?? 0,
    usage: { inputTokens: usage.input_tokens ?? 0, outputTokens: usage.output_tokens ?? 0 },
  };
}

/**
 * The `results` of a batch, each its value or its typed error, as an array that also has
 * `outcomes` (every item's `Outcome`, in input order; built when first read, since a big batch
 * rarely needs them) and `stats` (the batch's stats), like the Python client's
 * `GatherResults`. Both are non-enumerable, so the array compares and prints as a plain one.
 * @param {any} results the wire outcomes, in input order
 * @param {any} [stats] the wire batch stats
 * @returns {import('../index.js').GatherResults<any>}
 */
export function resultsFromWire(results, stats) {
  const wire = Array.isArray(results) ? results : [];
  const values = wire.map((outcome) => {
    if (outcome?.ok === true) return valueFromWire(outcome.value);
    return itemError(outcome?.error, { attempts: outcome?.attempts ?? 0, index: outcome?.index, key: outcome?.key });
  });
  /** @type {Array<import('../index.js').Outcome> | undefined} */
  let outcomes;
  Object.defineProperty(values, 'outcomes', {
    get: () => (outcomes ??= wire.map((outcome, i) => outcomeFromWire(outcome, values[i]))),
    enumerable: false,
    configurable: true,
  });
  Object.defineProperty(values, 'stats', {
    value: batchStatsFromWire(stats),
    enumerable: false,
    writable: true,
    configurable: true,
  });
  return /** @type {any} */ (values);
}

/**
 * The sidecar's `stats` in camelCase. Model names (`usage`), limiter keys (`provider/model`)
 * and provider names are map keys and stay as they are.
 * @param {any} stats
 */
export function statsFromWire(stats) {
  if (!isPlainObject(stats)) return stats;
  /** @type {Record<string, any>} */
  const out = {};
  for (const [name, value] of Object.entries(stats)) {
    if ((name === 'usage' || name === 'limiters' || name === 'providers') && isPlainObject(value)) {
      /** @type {Record<string, any>} */
      const map = {};
      for (const [entry, v] of Object.entries(value)) map[entry] = camelDeep(v);
      out[camelCase(name)] = map;
    } else {
      out[camelCase(name)] = camelDeep(value);
    }
  }
  return out;
}
