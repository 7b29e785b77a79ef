// The one place where the camelCase API meets the snake_case wire: items, provider
// configuration, outcomes, values and stats.

import { endianness } from 'node:os';
import { ProviderError, VolleyError, itemError } from './errors.js';

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
export const ITEM_FIELDS = Object.freeze(['key', 'provider', 'timeout', 'max_retries', 'format', 'raw', 'stream', 'endpoint', 'path']);
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
const CHAT_OPTIONS = ['key', 'provider', 'timeout', 'maxRetries', 'format', 'raw', 'stream', 'endpoint', 'model', 'system', 'extraBody'];

/** The endpoints `chat()` does not build items for, and the builder that does. */
const OTHER_BUILDERS = Object.freeze({
  embeddings: 'embed(input, options)',
  responses: 'respond(input, options)',
  completions: 'complete(prompt, options)',
});

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
  const { model, provider, system, key, timeout, maxRetries, max_retries, format, raw, stream, endpoint, extraBody, extra_body, ...params } =
    options;
  if (endpoint !== undefined && endpoint !== 'chat' && endpoint !== 'messages') {
    const builder = Object.hasOwn(OTHER_BUILDERS, endpoint) ? OTHER_BUILDERS[/** @type {keyof typeof OTHER_BUILDERS} */ (endpoint)] : undefined;
    throw new TypeError(
      `chat(): endpoint must be 'chat' or 'messages', not ${JSON.stringify(endpoint)}` + (builder ? `; build ${endpoint} items with ${builder}` : ''),
    );
  }
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
        'maxRetries, format, raw, stream, endpoint; other options must be request-body parameters (REQUEST_PARAMS: maxTokens, ' +
        'temperature, tools, ...); put any other body field in extraBody: { ... }',
    );
  }
  /** @type {Array<Record<string, any>>} */
  const messages = Array.isArray(prompt) ? [...prompt] : [{ role: 'user', content: String(prompt) }];
  // Anthropic's Messages API takes the system prompt as a body field, not as a message.
  const systemField = endpoint === 'messages' && system !== undefined;
  if (system !== undefined && !systemField) messages.unshift({ role: 'system', content: system });
  /** @type {Record<string, any>} */
  const request = model === undefined ? { messages } : { model, messages };
  if (systemField) request.system = system;
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
      {
        key,
        provider,
        // `endpoint: 'chat'` is the default: left out, like `undefined`.
        endpoint: endpoint === 'chat' ? undefined : endpoint,
        request,
        timeout,
        max_retries: maxRetries ?? max_retries,
        format,
        raw,
        stream: stream === false ? undefined : stream,
      },
      (n) => n,
    )
  );
}

// ---------------------------------------------------------------------------------------------
// Items of the other endpoints (docs/protocol.md, "Endpoints")

/**
 * What each builder takes besides `model`, the item options and `extraBody`: the endpoint's
 * request-body parameters (snake_case), whether `raw` means anything for it, and hints for
 * options people bring from `chat()`.
 * @typedef {{endpoint: string, input: string, params: ReadonlySet<string>, raw: boolean, hints: Record<string, string>}} EndpointSpec
 */

/** @type {Record<'embed' | 'respond' | 'complete', EndpointSpec>} */
const ENDPOINT_SPECS = {
  embed: {
    endpoint: 'embeddings',
    input: 'input',
    params: new Set(['dimensions', 'encoding_format', 'user', 'mock']),
    // The sidecar copies vectors without keeping the body: there is no `value.raw` to ask for.
    raw: false,
    hints: {},
  },
  respond: {
    endpoint: 'responses',
    input: 'input',
    params: new Set([
      'conversation', 'include', 'instructions', 'max_output_tokens', 'max_tool_calls', 'metadata', 'parallel_tool_calls',
      'previous_response_id', 'prompt', 'prompt_cache_key', 'reasoning', 'safety_identifier', 'service_tier', 'store',
      'temperature', 'text', 'tool_choice', 'tools', 'top_logprobs', 'top_p', 'truncation', 'user',
      'mock',
    ]),
    raw: true,
    hints: {
      system: 'the Responses API takes the system prompt as instructions',
      max_tokens: 'the Responses API calls it maxOutputTokens',
      messages: "pass the messages as respond()'s input",
    },
  },
  complete: {
    endpoint: 'completions',
    input: 'prompt',
    params: new Set([
      'best_of', 'echo', 'frequency_penalty', 'logit_bias', 'logprobs', 'max_tokens', 'n', 'presence_penalty', 'seed', 'stop',
      'suffix', 'temperature', 'top_p', 'user',
      'mock',
    ]),
    raw: true,
    hints: { system: 'legacy completions have no system prompt: put it in the prompt' },
  },
};

/** Body fields no builder sends: the sidecar does not stream these endpoints. */
const UNSTREAMED = new Set(['stream', 'stream_options']);

/**
 * The mock script on the wire: Volley's own, snake_case; accepted in either case.
 * @param {unknown} value
 */
function mockToWire(value) {
  return isPlainObject(value) ? renameKeys(value, snakeCase) : value;
}

/**
 * Builds an item of `spec`'s endpoint: `input` under the endpoint's input field, `model` and
 * the endpoint's parameters in snake_case in the body, `extraBody` merged last, the item
 * options on the item.
 * @param {keyof typeof ENDPOINT_SPECS} name the builder's name, for messages
 * @param {unknown} input
 * @param {Record<string, any>} options
 * @param {readonly string[]} [more] options the caller took out before (named in messages)
 */
export function endpointItem(name, input, options, more = []) {
  const spec = ENDPOINT_SPECS[name];
  if (options === null || typeof options !== 'object') throw new TypeError(`${name}(): options must be an object`);
  const { model, provider, key, timeout, maxRetries, max_retries, raw, extraBody, extra_body, ...params } = options;
  const itemOptions = ['key', 'provider', 'timeout', 'maxRetries', ...(spec.raw ? ['raw'] : []), ...more];
  for (const optionName of Object.keys(params)) {
    const field = snakeCase(optionName);
    if (spec.params.has(field)) continue;
    const known = [...itemOptions, 'model', 'extraBody', ...[...spec.params].map(camelCase)];
    if (UNSTREAMED.has(field) && !params[optionName]) continue; // e.g. stream: false
    const why = UNSTREAMED.has(field)
      ? `: ${spec.endpoint} items are not streamed (stream is for chat() items)`
      : Object.hasOwn(spec.hints, field)
        ? `: ${spec.hints[field]}`
        : `${didYouMean(optionName, known)}. Item options are ${itemOptions.join(', ')}; other options must be ${spec.endpoint} ` +
          `parameters (${[...spec.params].filter((p) => p !== 'mock').map(camelCase).join(', ')}, mock); ` +
          'put any other body field in extraBody: { ... }';
    throw new TypeError(`${name}(): ${UNSTREAMED.has(field) || Object.hasOwn(spec.hints, field) ? 'option' : 'unknown option'} "${optionName}"${why}`);
  }
  if (raw && !spec.raw) {
    throw new TypeError(`${name}(): option "raw" is not supported: ${spec.endpoint} values have no raw body (the sidecar copies the vectors out of it)`);
  }
  /** @type {Record<string, any>} */
  const request = model === undefined ? { [spec.input]: input } : { model, [spec.input]: input };
  for (const [optionName, value] of Object.entries(params)) {
    const field = snakeCase(optionName);
    if (value === undefined || UNSTREAMED.has(field)) continue;
    request[field] = field === 'mock' ? mockToWire(value) : value;
  }
  const extra = extraBody ?? extra_body;
  if (extra !== undefined) {
    if (!isPlainObject(extra)) throw new TypeError(`${name}(): extraBody must be a plain object`);
    Object.assign(request, extra);
  }
  return /** @type {any} */ (
    renameKeys(
      { key, provider, endpoint: spec.endpoint, request, timeout, max_retries: maxRetries ?? max_retries, raw: spec.raw ? raw : undefined },
      (n) => n,
    )
  );
}

/**
 * Builds an embeddings item (`endpoint: 'embeddings'`): `input` is a text, a list of texts (one
 * vector each, in order), or token arrays. `dimensions`, `encodingFormat` (`'float'`: numbers on
 * the wire instead of base64; the value is the same), `user` and `mock` go into the body, like
 * `model`; `key`, `provider`, `timeout`, `maxRetries` on the item. The value's `embeddings` are
 * `Float32Array`s. `defaultModel` is not filled in (a chat model does not embed).
 * @throws {TypeError} for an unknown option, naming the closest known one.
 * @param {string | string[] | number[] | number[][]} input
 * @param {Record<string, any>} [options]
 * @returns {import('../index.js').EmbeddingsItem}
 */
export function embed(input, options = {}) {
  return endpointItem('embed', input, options);
}

/**
 * Builds a Responses API item (`endpoint: 'responses'`): `input` is a text or a list of input
 * items (messages). The Responses parameters (`instructions`, `maxOutputTokens`,
 * `previousResponseId`, `tools`, `reasoning`, ...) go into the body in snake_case, like `model`;
 * `key`, `provider`, `timeout`, `maxRetries`, `raw` on the item. The value has `text`,
 * `toolCalls`, `finishReason`, `usage` and `id`.
 * @throws {TypeError} for an unknown option, naming the closest known one.
 * @param {string | Array<Record<string, any>>} input
 * @param {Record<string, any>} [options]
 * @returns {import('../index.js').ResponsesItem}
 */
export function respond(input, options = {}) {
  return endpointItem('respond', input, options);
}

/**
 * Builds a legacy completions item (`endpoint: 'completions'`, as many local servers keep):
 * `prompt` is a text (or what the server takes as `prompt`). `maxTokens`, `temperature`, `stop`,
 * `suffix`, ... go into the body in snake_case, like `model`; `key`, `provider`, `timeout`,
 * `maxRetries`, `raw` on the item. The value's `text` is `choices[0].text`.
 * @throws {TypeError} for an unknown option, naming the closest known one.
 * @param {string | string[]} prompt
 * @param {Record<string, any>} [options]
 * @returns {import('../index.js').CompletionsItem}
 */
export function complete(prompt, options = {}) {
  return endpointItem('complete', prompt, options);
}

/** `post()`'s options: the body is given whole, so only the item options and the mock script. */
const POST_OPTIONS = Object.freeze(['key', 'provider', 'timeout', 'maxRetries', 'mock']);

/**
 * Builds a raw item: `body` POSTed as it is (names unchanged) to `path` under the provider's
 * base URL, with its auth, headers, limits and retries (`/v1/x` under a base URL ending in `/v1`
 * is `{base_url}/x`). `key`, `provider`, `timeout`, `maxRetries` go on the item; `mock` (the
 * mock provider's script) into the body. The value is `{ status, body }`, the body as the server
 * sent it. `defaultModel` is not filled in.
 * @throws {TypeError} when `path` does not start with `/`, `body` is not a plain object, or for
 *   an unknown option.
 * @param {string} path
 * @param {Record<string, any>} [body]
 * @param {Record<string, any>} [options]
 * @returns {import('../index.js').PostItem}
 */
export function post(path, body = {}, options = {}) {
  if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//')) {
    throw new TypeError(`post(): path must start with / (such as '/moderations'), not ${JSON.stringify(path)}`);
  }
  if (!isPlainObject(body)) throw new TypeError('post(): body must be a plain object (the JSON request body)');
  checkOptions('post()', options, POST_OPTIONS);
  const { key, provider, timeout, maxRetries, mock } = options;
  const request = mock === undefined ? { ...body } : { ...body, mock: mockToWire(mock) };
  return /** @type {any} */ (renameKeys({ key, provider, path, request, timeout, max_retries: maxRetries }, (n) => n));
}

/**
 * An item as the sidecar wants it: a string is `chat(string)`; an object's own fields are put
 * in snake_case (`maxRetries` → `max_retries`) while `request` is sent untouched, except that a
 * missing `request.model` is filled with `defaultModel` when one is set (not for embeddings and
 * raw `path` items). Anything else is sent
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
        `an item has no field "${given}"${didYouMean(given, ['request', 'key', 'provider', 'timeout', 'maxRetries', 'format', 'raw', 'stream', 'endpoint', 'path'])}; ` +
          'its fields are request, key, provider, timeout, maxRetries (max_retries), format, raw, stream, endpoint, path ' +
          '(request-body fields go inside request)',
      );
    }
  }
  // A chat model would be wrong for an embeddings item, and a raw body is sent as it is.
  const modelless = out.endpoint === 'embeddings' || out.path !== undefined;
  if (defaultModel !== undefined && !modelless && isPlainObject(out.request) && out.request.model === undefined) {
    out.request = { ...out.request, model: defaultModel };
  }
  return out;
}

const BATCH_OPTIONS = new Set(['concurrency', 'timeout', 'failFast', 'priority', 'progress', 'maxCostUsd']);

/**
 * Params of `gather` / `as_completed`.
 * @param {Iterable<unknown>} items
 * @param {{concurrency?: number, timeout?: number, failFast?: boolean, priority?: string, progress?: boolean, maxCostUsd?: number}} options
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
      // A budget of 0 is sent (it still affords the free mock), only `undefined` is left out.
      max_cost_usd: options.maxCostUsd,
    },
    (n) => n,
  );
}

// ---------------------------------------------------------------------------------------------
// From the sidecar

// Embeddings: base64 strings of little-endian float32s, decoded straight into the bytes of
// each vector's own Float32Array (one decode, no copy; every vector is aligned, owns exactly
// its buffer, and keeps nothing else alive).

const BIG_ENDIAN = endianness() === 'BE';
/** The `encoding`s whose vectors become Float32Arrays. */
const DECODED = new Set(['base64', 'float']);

/**
 * A base64 string of little-endian float32s as a `Float32Array`, or `undefined` when it is not
 * one (a byte count that is not a multiple of 4, or characters outside base64).
 * @param {string} base64
 * @returns {Float32Array | undefined}
 */
function vectorFromBase64(base64) {
  const bytes = Buffer.byteLength(base64, 'base64');
  if (bytes % 4 !== 0) return undefined;
  // Unpooled and not zeroed: an ArrayBuffer of exactly `bytes`, at offset 0, that the decoder
  // fills. Node's decoder skips characters outside the alphabet, writing fewer bytes than the
  // length promised: then nothing is returned, so no unwritten byte is ever seen.
  const view = Buffer.allocUnsafeSlow(bytes);
  if (view.write(base64, 'base64') !== bytes) return undefined;
  if (BIG_ENDIAN) view.swap32();
  return new Float32Array(view.buffer, 0, bytes / 4);
}

/**
 * Decodes one embedding as the OpenAI API sends it with `encoding_format: "base64"`: a string of
 * little-endian float32s.
 * @param {string} base64
 * @returns {Float32Array}
 * @throws {TypeError} when `base64` is not a string of whole float32s in base64.
 */
export function decodeEmbedding(base64) {
  if (typeof base64 !== 'string') throw new TypeError(`decodeEmbedding(): expected a base64 string, got ${typeof base64}`);
  const vector = vectorFromBase64(base64);
  if (!vector) throw new TypeError(`decodeEmbedding(): not base64 of little-endian float32s: ${describe(base64)}`);
  return vector;
}

/** @param {string} text */
function describe(text) {
  return `${JSON.stringify(text.length > 24 ? `${text.slice(0, 24)}...` : text)} (${text.length} characters)`;
}

/**
 * An embeddings value's vectors as `Float32Array`s: base64 strings decoded, number arrays
 * (`encoding: "float"`) converted.
 * @param {unknown[]} list
 * @param {unknown} encoding
 * @returns {Float32Array[]}
 * @throws {ProviderError} for a vector that is neither (what the provider sent cannot be read).
 */
function embeddingsFromWire(list, encoding) {
  const vectors = new Array(list.length);
  for (let i = 0; i < list.length; i += 1) {
    const entry = list[i];
    let vector;
    if (encoding === 'base64' && typeof entry === 'string') vector = vectorFromBase64(entry);
    else if (encoding === 'float' && Array.isArray(entry)) vector = new Float32Array(entry);
    if (!vector) {
      const what = typeof entry === 'string' ? describe(entry) : Array.isArray(entry) ? 'an array' : String(entry);
      const expected = encoding === 'float' ? 'an array of numbers' : 'base64 of little-endian float32s';
      throw new ProviderError(`embedding ${i} of the reply is not ${expected}: ${what}`, { kind: 'provider_error' });
    }
    vectors[i] = vector;
  }
  return vectors;
}

/**
 * An outcome's `value` in camelCase: `text`, `finishReason`, `model`, `usage {inputTokens,
 * outputTokens, cachedInputTokens}` (the last only when the provider served some of the prompt
 * from its cache, as on the wire), `toolCalls` and `raw` (both as the provider sent them); and for the other
 * endpoints `id` (responses), `status` and `body` (a raw `path` call; the body as the server
 * sent it), `embeddings` (as `Float32Array`s when `encoding` is `base64` or `float`), `encoding`
 * and `dimensions`.
 * @param {any} value
 * @throws {ProviderError} when an embeddings value holds a vector that cannot be decoded.
 */
export function valueFromWire(value) {
  if (!isPlainObject(value)) return value;
  /** @type {Record<string, any>} */
  const out = {};
  for (const [name, v] of Object.entries(value)) {
    if (name === 'usage') out.usage = renameKeysDeep(v, camelCase);
    // An encoding this client does not know (a later sidecar's) is handed on as sent.
    else if (name === 'embeddings' && Array.isArray(v) && DECODED.has(value.encoding)) out.embeddings = embeddingsFromWire(v, value.encoding);
    else out[camelCase(name)] = v;
  }
  return out;
}

/**
 * A successful outcome's value, or the `ProviderError` its value is (a vector that cannot be
 * decoded), carrying the outcome's `attempts`, `index` and `key` as an item error does.
 * @param {any} wire an outcome with `ok: true`
 */
function valueOrError(wire) {
  try {
    const value = valueFromWire(wire.value);
    // The outcome's `cost_usd` (null: the model has no price) goes on the value too, so that
    // `gather`'s values carry it without `outcomes`.
    if (isPlainObject(value) && wire.cost_usd !== undefined) value.costUsd = wire.cost_usd;
    return value;
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    error.attempts = wire.attempts ?? 0;
    error.index = wire.index;
    error.key = wire.key;
    return error;
  }
}

/**
 * @param {any} wire an outcome, or an `item` notification's params
 * @param {any} [built] the value or error already built from it (so a batch's slot and its
 *   outcome hold the same error object)
 * @returns {import('../index.js').Outcome}
 */
export function outcomeFromWire(wire, built) {
  const meta = { attempts: wire?.attempts ?? 0, index: wire?.index, key: wire?.key };
  const result = built ?? (wire?.ok === true ? valueOrError(wire) : itemError(wire?.error, meta));
  // A value whose vectors cannot be decoded is the item's failure, as the sidecar's own
  // `provider_error` for a body it cannot read.
  const ok = wire?.ok === true && !(result instanceof VolleyError);
  return {
    index: wire?.index,
    key: wire?.key,
    provider: wire?.provider,
    ok,
    value: ok ? result : undefined,
    error: ok ? undefined : result,
    attempts: meta.attempts,
    latencyMs: wire?.latency_ms,
    queuedMs: wire?.queued_ms,
    ttftMs: wire?.ttft_ms,
    costUsd: wire?.cost_usd,
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
    costUsd: stats?.cost_usd ?? 0,
    costUnknown: stats?.cost_unknown ?? 0,
    budgetExceeded: stats?.budget_exceeded ?? 0,
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
    if (outcome?.ok === true) return valueOrError(outcome);
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
