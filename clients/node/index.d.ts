// Type definitions for volley (the Node.js host library of the Volley sidecar).
// Hand-written; the source is plain JavaScript in src/. The wire protocol is docs/protocol.md.
// TypeScript 4.7 or later (`exports` conditions); `AbortSignal` comes from @types/node or the
// DOM lib. src/index.d.ts re-exports this file for imports of src/index.js by path.

declare global {
  // `Symbol.asyncDispose` is in TypeScript's own lib from 5.2 (esnext.disposable); declared
  // here too, as @types/node does, so these types also compile on older compilers (Debian's
  // tsc 4.8). The declarations merge with the lib's.
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol;
  }
}

/** A chat message, OpenAI-shaped. */
export interface Message {
  role: 'system' | 'user' | 'assistant' | 'tool' | (string & {});
  content: string | null | unknown[];
  [field: string]: unknown;
}

/** Scripts the built-in `mock` provider for one item (no network). */
export interface MockScript {
  /** Milliseconds before the reply. */
  latency_ms?: number;
  latencyMs?: number;
  /** The exact reply text (default: `"Mock reply to: <last user message>"`). */
  reply?: string;
  /** An error kind to fail with. */
  fail?: Exclude<ErrorKind, 'deadline_exceeded' | 'cancelled'>;
  /** How many attempts fail before one succeeds (default: all). */
  fail_attempts?: number;
  failAttempts?: number;
  /** The HTTP status reported with the failure. */
  status?: number;
  /** Seconds, as a server's `retry-after`. */
  retry_after?: number;
  retryAfter?: number;
  /** Streamed items: milliseconds between deltas (default 0). */
  chunk_delay_ms?: number;
  chunkDelayMs?: number;
  /** Streamed items: the scripted `fail` happens after this many deltas of the attempt (a stream cut mid-answer). */
  fail_after_chunks?: number;
  failAfterChunks?: number;
}

/** An OpenAI chat-completions body. Unknown fields are passed to the provider untouched. */
export interface ChatRequest {
  model?: string;
  messages: Message[];
  max_tokens?: number;
  temperature?: number;
  /** Only for the `mock` provider. */
  mock?: MockScript;
  [field: string]: unknown;
}

/**
 * Which API an item calls (docs/protocol.md, "Endpoints"); a raw call gives `path` instead.
 * `chat` (the default) and `messages` items are `Item`s (`chat()` builds both); the others have
 * their own item types and builders: `embed()`, `respond()`, `complete()`, and `post()` for a path.
 */
export type Endpoint = 'chat' | 'embeddings' | 'responses' | 'messages' | 'completions';

/** One LLM call, as the protocol defines it (snake_case; `maxRetries` is accepted too). */
export interface Item {
  /** Echoed in the outcome and in errors. */
  key?: string;
  /** A configured provider's name (default: the default provider). */
  provider?: string;
  request: ChatRequest;
  /** Seconds for this item, retries and waits included, counted from when it starts. */
  timeout?: number;
  /** 0..100; default: the provider's `retry.max_retries`. */
  max_retries?: number;
  maxRetries?: number;
  /** `native` sends `request` to the provider unchanged. */
  format?: 'openai' | 'native';
  /** Include the provider's whole response body as `value.raw`. */
  raw?: boolean;
  /**
   * Token streaming: the answer arrives in chunks (`delta`, `reset`) before the outcome, which
   * is whole and has `ttftMs`. See `Volley.stream()`, `asCompleted`'s `deltas`, `onDelta`.
   */
  stream?: boolean;
  /**
   * `chat` (default): chat completions (translated for Anthropic). `messages`: the body is an
   * Anthropic Messages body, sent as it is to `/v1/messages` (anthropic and mock providers).
   */
  endpoint?: 'chat' | 'messages';
}

/** The item fields every endpoint has besides `request`. */
export interface ItemFields {
  /** Echoed in the outcome and in errors. */
  key?: string;
  /** A configured provider's name (default: the default provider). */
  provider?: string;
  /** Seconds for this item, retries and waits included, counted from when it starts. */
  timeout?: number;
  /** 0..100; default: the provider's `retry.max_retries`. */
  max_retries?: number;
  maxRetries?: number;
}

/** An OpenAI embeddings body. Unknown fields are passed to the provider untouched. */
export interface EmbeddingsRequest {
  model?: string;
  /** A text, texts (one vector each, in order), or token arrays. */
  input: string | string[] | number[] | number[][];
  dimensions?: number;
  /** Default (the sidecar asks for it): `base64`. `float`: numbers on the wire; the value is the same. */
  encoding_format?: 'base64' | 'float';
  user?: string;
  /** Only for the `mock` provider. */
  mock?: MockScript;
  [field: string]: unknown;
}

/** An embeddings call (openai and mock providers); its value is an `EmbeddingsValue`. */
export interface EmbeddingsItem extends ItemFields {
  endpoint: 'embeddings';
  request: EmbeddingsRequest;
}

/** An OpenAI Responses body. Unknown fields are passed to the provider untouched. */
export interface ResponsesRequest {
  model?: string;
  /** A text, or input items (messages, function call outputs, ...). */
  input: string | unknown[];
  instructions?: string;
  max_output_tokens?: number;
  previous_response_id?: string;
  tools?: unknown[];
  /** Only for the `mock` provider. */
  mock?: MockScript;
  [field: string]: unknown;
}

/** A Responses API call (openai and mock providers); its value is a `ResponsesValue`. */
export interface ResponsesItem extends ItemFields {
  endpoint: 'responses';
  request: ResponsesRequest;
  /** Include the provider's whole response body as `value.raw`. */
  raw?: boolean;
}

/** A legacy completions body. Unknown fields are passed to the provider untouched. */
export interface CompletionsRequest {
  model?: string;
  prompt: string | string[] | number[] | number[][];
  max_tokens?: number;
  temperature?: number;
  /** Only for the `mock` provider. */
  mock?: MockScript;
  [field: string]: unknown;
}

/** A legacy completions call (openai and mock providers); its value is a `CompletionValue`. */
export interface CompletionsItem extends ItemFields {
  endpoint: 'completions';
  request: CompletionsRequest;
  /** Include the provider's whole response body as `value.raw`. */
  raw?: boolean;
}

/**
 * A raw call: `request` POSTed as it is to `path` under the provider's base URL, with its auth,
 * headers, limits and retries; its value is a `PostValue`.
 */
export interface PostItem extends ItemFields {
  /** Starts with `/`; `/v1/x` under a base URL ending in `/v1` is `{base_url}/x`. */
  path: string;
  request: Record<string, unknown>;
  endpoint?: undefined;
}

/** An item of any endpoint. */
export type AnyItem = Item | EmbeddingsItem | ResponsesItem | CompletionsItem | PostItem;

/** What the batch methods accept: an item, or a string (the same as `chat(string)`). */
export type ItemLike = AnyItem | string;

/**
 * Options of `chat()`. The item options (`key`, `provider`, `timeout`, `maxRetries`, `format`,
 * `raw`, `stream`) go on the item; `model` and the request-body parameters below go into `request`, in
 * snake_case (`maxTokens` → `max_tokens`; snake_case names are accepted too). Anything else
 * throws a `TypeError` naming the closest known option; put other body fields in `extraBody`.
 */
export interface ChatOptions {
  model?: string;
  provider?: string;
  /** Prepended as a system message. */
  system?: string;
  key?: string;
  /** Seconds for this item, retries included. */
  timeout?: number;
  maxRetries?: number;
  format?: 'openai' | 'native';
  raw?: boolean;
  /** Token streaming (the item field `stream: true`); `false` is left out. */
  stream?: boolean;
  /**
   * `messages`: an Anthropic Messages body sent as it is (`system` then goes in the body's
   * `system` field, not as a message). `chat` (the default) is left out. Other endpoints have
   * their own builders (`embed`, `respond`, `complete`, `post`).
   */
  endpoint?: 'chat' | 'messages';
  /** Merged into the request body as given (names unchanged), for fields not listed here. */
  extraBody?: Record<string, unknown>;
  /** `maxTokens` → `max_tokens`. */
  maxTokens?: number;
  maxCompletionTokens?: number;
  temperature?: number;
  topP?: number;
  n?: number;
  stop?: string | string[];
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  logitBias?: Record<string, number>;
  logprobs?: boolean;
  topLogprobs?: number;
  user?: string;
  tools?: unknown[];
  toolChoice?: unknown;
  parallelToolCalls?: boolean;
  responseFormat?: unknown;
  functions?: unknown[];
  functionCall?: unknown;
  metadata?: Record<string, unknown>;
  modalities?: string[];
  audio?: unknown;
  prediction?: unknown;
  promptCacheKey?: string;
  reasoningEffort?: string;
  safetyIdentifier?: string;
  serviceTier?: string;
  store?: boolean;
  verbosity?: string;
  webSearchOptions?: unknown;
  /** Anthropic (`format: 'native'`). */
  topK?: number;
  stopSequences?: string[];
  thinking?: unknown;
  /** Only for the `mock` provider. */
  mock?: MockScript;
}

/**
 * Builds an item. `prompt` is the user's message or a whole messages array; see `ChatOptions`
 * for where each option goes. `undefined` options are left out.
 * @throws {TypeError} for an unknown option (a typo such as `timout`), naming the closest one.
 */
export function chat(prompt: string | Message[], options?: ChatOptions): Item;

/** The options every endpoint's builder takes: item options, `model`, the mock script, `extraBody`. */
export interface EndpointOptions {
  model?: string;
  provider?: string;
  key?: string;
  /** Seconds for this item, retries included. */
  timeout?: number;
  maxRetries?: number;
  /** Merged into the request body as given (names unchanged), for fields not listed here. */
  extraBody?: Record<string, unknown>;
  /** Only for the `mock` provider. */
  mock?: MockScript;
}

/** Options of `embed()`: body parameters in camelCase (`encodingFormat` → `encoding_format`). */
export interface EmbedOptions extends EndpointOptions {
  dimensions?: number;
  /** `float`: numbers on the wire instead of base64 (4x larger); the value's vectors are the same `Float32Array`s. */
  encodingFormat?: 'base64' | 'float';
  user?: string;
}

/** Options of `respond()`: the Responses API's parameters in camelCase. */
export interface RespondOptions extends EndpointOptions {
  /** Include the provider's whole response body as `value.raw`. */
  raw?: boolean;
  /** The system prompt. */
  instructions?: string;
  maxOutputTokens?: number;
  maxToolCalls?: number;
  /** A previous value's `id`, to continue that conversation. */
  previousResponseId?: string;
  conversation?: unknown;
  include?: string[];
  metadata?: Record<string, string>;
  parallelToolCalls?: boolean;
  prompt?: unknown;
  promptCacheKey?: string;
  reasoning?: unknown;
  safetyIdentifier?: string;
  serviceTier?: string;
  store?: boolean;
  temperature?: number;
  text?: unknown;
  toolChoice?: unknown;
  tools?: unknown[];
  topLogprobs?: number;
  topP?: number;
  truncation?: string;
  user?: string;
}

/** Options of `complete()`: the legacy completions parameters in camelCase. */
export interface CompleteOptions extends EndpointOptions {
  /** Include the provider's whole response body as `value.raw`. */
  raw?: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  n?: number;
  stop?: string | string[];
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  logitBias?: Record<string, number>;
  logprobs?: number;
  echo?: boolean;
  bestOf?: number;
  suffix?: string;
  user?: string;
}

/** Options of `post()`: the body is given whole, so only the item options and the mock script. */
export interface PostOptions {
  provider?: string;
  key?: string;
  timeout?: number;
  maxRetries?: number;
  /** Only for the `mock` provider: merged into the body as `mock`. */
  mock?: MockScript;
}

/**
 * Builds an embeddings item: one vector per text of `input`, in order (`value.embeddings`, as
 * `Float32Array`s). `defaultModel` is not filled in: name an embedding model.
 * @throws {TypeError} for an unknown option, naming the closest one.
 */
export function embed(input: string | string[] | number[] | number[][], options?: EmbedOptions): EmbeddingsItem;

/**
 * Builds a Responses API item: `input` is a text or input items.
 * @throws {TypeError} for an unknown option (`system`: use `instructions`), naming the closest one.
 */
export function respond(input: string | unknown[], options?: RespondOptions): ResponsesItem;

/**
 * Builds a legacy completions item (`/completions`, as many local servers keep); the value's
 * `text` is `choices[0].text`.
 * @throws {TypeError} for an unknown option, naming the closest one.
 */
export function complete(prompt: string | string[] | number[] | number[][], options?: CompleteOptions): CompletionsItem;

/**
 * Builds a raw item: `body` POSTed as it is (names unchanged) to `path` under the provider's base
 * URL; the value is `{ status, body }`. `defaultModel` is not filled in.
 * @throws {TypeError} when `path` does not start with `/`, `body` is not a plain object, or for an unknown option.
 */
export function post(path: string, body?: Record<string, unknown>, options?: PostOptions): PostItem;

/**
 * One embedding as the OpenAI API sends it with `encoding_format: "base64"` (little-endian
 * float32s) as a `Float32Array` with a buffer of its own; for bodies read with `post()`.
 * @throws {TypeError} when it is not base64 of whole float32s.
 */
export function decodeEmbedding(base64: string): Float32Array;

/** The fields of a protocol item besides `request`. */
export const ITEM_FIELDS: readonly ['key', 'provider', 'timeout', 'max_retries', 'format', 'raw', 'stream', 'endpoint', 'path'];
/** The request-body parameters `chat()` accepts as options (snake_case). */
export const REQUEST_PARAMS: ReadonlySet<string>;

export interface Usage {
  /** Every prompt token, cached ones included. */
  inputTokens: number;
  outputTokens: number;
  /**
   * Prompt tokens the provider served from its prompt cache (OpenAI's `cached_tokens`,
   * Anthropic's cache reads), priced at the model's `cachedInput` in `costUsd`. Present only when
   * there were some, as on the wire (read it as `usage.cachedInputTokens ?? 0`); batch stats'
   * `usage` has none.
   */
  cachedInputTokens?: number;
}

/** A successful item's value. */
export interface ChatValue {
  /** The assistant's text; `null` when the reply is only tool calls. */
  text: string | null;
  /** `stop`, `length`, `tool_calls`, `content_filter` (Anthropic's reasons are mapped). */
  finishReason?: string;
  model?: string;
  usage?: Usage;
  /** OpenAI-shaped, only when present. */
  toolCalls?: unknown[];
  /** The provider's whole response body, only when the item asked with `raw: true`. */
  raw?: unknown;
  /**
   * `call()` of a streamed item (`stream: true`): milliseconds from the start of the attempt that
   * answered to its first delta. In a batch it is the outcome's (`Outcome.ttftMs`).
   */
  ttftMs?: number;
  /**
   * What the call cost in dollars, from its usage and the model's price (0 on the mock); `null`
   * when the model has no price (or no usage was reported). On `call()`'s value and a stream's
   * `result` (the `call` result's `cost_usd`) and on a batch's values (the outcome's `costUsd`);
   * absent only when the sidecar did not send it (one older than costs).
   */
  costUsd?: number | null;
}

/** An OpenAI-shaped tool call. */
export interface ToolCall {
  /** For a Responses function call, its `call_id` (what a `function_call_output` answers). */
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** An embeddings item's value. */
export interface EmbeddingsValue {
  /**
   * One vector per input, in input order, decoded from the wire's base64 (little-endian float32)
   * or numbers. Each has an `ArrayBuffer` of its own, exactly its size.
   */
  embeddings: Float32Array[];
  /** How the vectors came on the wire: `base64` unless the request asked for `float`. */
  encoding: 'base64' | 'float';
  /** The length of each vector. */
  dimensions: number;
  model?: string | null;
  /** `outputTokens` is 0. */
  usage?: Usage | null;
  text: null;
  finishReason: null;
  /** The cost in dollars (from `call()` and in a batch), `null` when the model has no price (see `ChatValue.costUsd`). */
  costUsd?: number | null;
}

/** A Responses item's value. */
export interface ResponsesValue {
  /** The text of its `output_text` parts; `null` when there is none (only function calls). */
  text: string | null;
  /** Its `function_call` items, OpenAI-shaped (`call_id` as `id`), only when present. */
  toolCalls?: ToolCall[];
  /** `stop`, `tool_calls`, `length` (cut by `max_output_tokens`), `content_filter`, ... */
  finishReason: string | null;
  usage?: Usage | null;
  /** The response's id, for `previousResponseId`. */
  id?: string;
  model?: string | null;
  /** Only when the item asked with `raw: true`. */
  raw?: unknown;
  /** The cost in dollars (from `call()` and in a batch), `null` when the model has no price (see `ChatValue.costUsd`). */
  costUsd?: number | null;
}

/** A legacy completions item's value. */
export interface CompletionValue {
  /** `choices[0].text`. */
  text: string | null;
  finishReason: string | null;
  usage?: Usage | null;
  model?: string | null;
  /** Only when the item asked with `raw: true`. */
  raw?: unknown;
  /** The cost in dollars (from `call()` and in a batch), `null` when the model has no price (see `ChatValue.costUsd`). */
  costUsd?: number | null;
}

/** A raw (`post()`) item's value. */
export interface PostValue {
  /** The reply's HTTP status (2xx: other statuses are the item's error). */
  status: number;
  /** The reply's JSON as the server sent it (names unchanged), or a string when it is not JSON. */
  body: unknown;
  /** When the body has OpenAI's or Anthropic's `usage`. */
  usage?: Usage | null;
  model?: string | null;
  text: null;
  finishReason: null;
  /** The cost in dollars (from `call()` and in a batch), `null` when the model has no price (see `ChatValue.costUsd`). */
  costUsd?: number | null;
}

/** Any item's value. */
export type Value = ChatValue | EmbeddingsValue | ResponsesValue | CompletionValue | PostValue;

/**
 * The value of an item of type `I`: `embed()` items have `EmbeddingsValue`s, `respond()` items
 * `ResponsesValue`s, `complete()` items `CompletionValue`s, `post()` items `PostValue`s, chat and
 * messages items (and strings) `ChatValue`s. A union of items gives the union of their values.
 */
export type ValueOf<I> = I extends string
  ? ChatValue
  : I extends EmbeddingsItem
    ? EmbeddingsValue
    : I extends ResponsesItem
      ? ResponsesValue
      : I extends CompletionsItem
        ? CompletionValue
        : I extends PostItem
          ? PostValue
          : ChatValue;

/** One item's outcome, as `asCompleted` yields it. */
export interface Outcome<V = ChatValue> {
  /** Position in the input. */
  index: number;
  key: string | undefined;
  /** The configured provider that ran the item (`undefined` only for a malformed item). */
  provider: string | undefined;
  ok: boolean;
  /** When `ok`. */
  value: V | undefined;
  /** When not `ok`. */
  error: VolleyError | undefined;
  /** HTTP attempts made (0 when the item never started). */
  attempts: number;
  /** From the first attempt's start to the end, retries included; absent if it never started. */
  latencyMs: number | undefined;
  /** From the batch's arrival to the first attempt. */
  queuedMs: number | undefined;
  /**
   * A streamed item that answered: milliseconds from the start of the attempt that produced the
   * answer to its first delta; `undefined` otherwise.
   */
  ttftMs: number | undefined;
  /**
   * A success's cost in dollars, from its usage and the model's price (0 on the mock); `null`
   * when the model has no price (or no usage was reported); `undefined` for a failure.
   */
  costUsd: number | null | undefined;
}

/** A piece of one tool call, as a `delta` carries it. */
export interface ToolCallDelta {
  /** The call's position among the answer's tool calls. */
  index: number;
  /** With the call's first piece. */
  id?: string;
  /** With the call's first piece. */
  name?: string;
  /** The next fragment of the call's JSON arguments, to be concatenated. */
  arguments?: string;
}

/** The next piece of a streamed item's answer. */
export interface DeltaChunk {
  type: 'delta';
  /** The item's position in its batch (0 for `stream()`). */
  index: number;
  /** The item's key, when it has one. */
  key: string | undefined;
  /** The attempt that wrote it (1 for the first). */
  attempt: number;
  /** The next piece of text; `''` when this piece carried none. */
  text: string;
  /** Pieces of tool calls, when this piece carried some. */
  toolCalls: ToolCallDelta[] | undefined;
}

/**
 * Discard every chunk of this item received so far: `attempt` failed after writing some, and
 * the next attempt's deltas start the answer again from its beginning.
 */
export interface ResetChunk {
  type: 'reset';
  index: number;
  key: string | undefined;
  /** The attempt that failed. */
  attempt: number;
  /** Always `''`, so that writing `chunk.text` works for every chunk. */
  text: '';
}

export type StreamChunk = DeltaChunk | ResetChunk;

/** An outcome as `asCompleted(items, { deltas: true })` yields it. */
export type OutcomeEvent<V = ChatValue> = Outcome<V> & { type: 'outcome' };

/** What `asCompleted(items, { deltas: true })` yields: chunks, and each item's outcome after its chunks. */
export type AsCompletedEvent<V = ChatValue> = StreamChunk | OutcomeEvent<V>;

/** A tool call assembled from its pieces, OpenAI-shaped as in `ChatValue.toolCalls`. */
export interface AssembledToolCall {
  id: string | undefined;
  type: 'function';
  function: { name: string | undefined; arguments: string };
}

/** What `stream().result` resolves with: the whole value, as `call()`'s, and the time to first token. */
export type StreamResult = ChatValue & {
  /** Milliseconds from the start of the attempt that answered to its first delta (`undefined` when the sidecar did not say). */
  ttftMs: number | undefined;
};

/**
 * One item's answer so far, assembled from its chunks (feed it one item's chunks in order): a
 * `reset` empties it, so its `text` is never doubled.
 */
export declare class StreamAssembler {
  constructor();
  /** The text received since the last reset. */
  readonly text: string;
  /** The tool calls received since the last reset, arguments joined. */
  readonly toolCalls: AssembledToolCall[];
  /** The attempt the current text comes from. */
  readonly attempt: number | undefined;
  /** How many resets were applied. */
  readonly resets: number;
  /** Applies a chunk (anything else, such as an `OutcomeEvent`, is ignored). */
  apply(chunk: StreamChunk | AsCompletedEvent): this;
}

/**
 * What `Volley.stream()` returns: iterate it once with `for await` for its chunks; `result`
 * is the whole value. Leaving the loop early or aborting the signal cancels the item.
 */
export declare class ChatStream implements AsyncIterable<StreamChunk> {
  private constructor();
  /**
   * The whole value, with `ttftMs`. Rejects with the item's typed error (as `call()` does), or
   * with an `AbortError` when the signal fired or the loop was left early.
   */
  readonly result: Promise<StreamResult>;
  /** The text of the chunks iterated so far, since the last reset. */
  readonly text: string;
  /** The tool calls of the chunks iterated so far, since the last reset. */
  readonly toolCalls: AssembledToolCall[];
  /** The attempt the last chunk iterated came from. */
  readonly attempt: number | undefined;
  /** How many resets were iterated. */
  readonly resets: number;
  /** @throws {TypeError} the second time: a stream is iterated once. */
  [Symbol.asyncIterator](): AsyncGenerator<StreamChunk, void, undefined>;
}

/** Options of `stream()` with a prompt: `chat()`'s, and `signal`. */
export interface StreamOptions extends Omit<ChatOptions, 'stream'> {
  /** Aborting cancels the item; the loop throws `AbortError` once the sidecar has answered. */
  signal?: AbortSignal;
}

export interface Progress {
  /** Items with an outcome (failed and cancelled ones included). */
  done: number;
  failed: number;
  total: number;
}

export interface BatchOptions {
  /** Items of this batch in flight at once (1..10000, default 64); provider limits apply on top. */
  concurrency?: number;
  /** Seconds for the whole batch; unfinished items end with `DeadlineExceeded`. */
  timeout?: number;
  /** The first failed item cancels the rest. */
  failFast?: boolean;
  /** Interactive batches are served first (default `interactive`). */
  priority?: 'interactive' | 'background';
  /**
   * The batch's budget in dollars (sent as `max_cost_usd`): an item whose worst case the rest of
   * it cannot afford, or whose model has no price, is not sent and fails with `BudgetExceeded`.
   * A provider's own `budget` (`ProviderConfig.budget`) holds on top of it.
   */
  maxCostUsd?: number;
  /** Called with progress, at most about 10 times a second and once at the end. */
  onProgress?: (progress: Progress) => void;
  /** Called with each chunk of the streamed items (`stream: true`) as it arrives, tagged with the item's `index`. */
  onDelta?: (chunk: StreamChunk) => void;
  /** Aborting sends `cancel`; the call rejects with `AbortError` once the sidecar has answered. */
  signal?: AbortSignal;
}

export interface AsCompletedOptions extends BatchOptions {
  /**
   * `true`: the loop also yields the chunks of streamed items, and each outcome with
   * `type: 'outcome'` (after its item's chunks). Default `false`: outcomes only.
   */
  deltas?: boolean;
}

/**
 * Options of `v.embed(texts, options)`: `embed()`'s for every request (but `key`: each request
 * is keyed `"start:stop"`), and how the requests run.
 */
export interface EmbedTextsOptions extends Omit<EmbedOptions, 'key' | 'timeout'> {
  /** Texts per embeddings request (default 256; OpenAI takes up to 2,048 and 300,000 tokens a request). */
  batchSize?: number;
  /** Requests in flight at once (default 64); provider limits apply on top. */
  concurrency?: number;
  /** Seconds for the whole batch (as `gather`'s); unfinished requests end with `DeadlineExceeded`. */
  timeout?: number;
  priority?: 'interactive' | 'background';
  /** Called with progress, counted in requests (`batchSize` texts each). */
  onProgress?: (progress: Progress) => void;
  /** Aborting cancels every request; the call rejects with `AbortError`. */
  signal?: AbortSignal;
}

export interface GatherOptions extends BatchOptions {
  /**
   * `true`: a failed item's slot holds its error and the call resolves. `false` (default): the
   * call rejects with the first item to fail in time, at once, and the rest of the batch is
   * cancelled (unless `failFast: false`: then the whole batch runs and the lowest-index failure
   * rejects); the error's `results` holds every slot.
   */
  returnExceptions?: boolean;
  /**
   * The first failed item cancels the rest. Default: `!returnExceptions` (as in the Python
   * client).
   */
  failFast?: boolean;
}

/**
 * What `asCompleted` returns: an async generator of its events (iterate it once with
 * `for await`), whose `stats` is the batch's stats (as `gather`'s `results.stats`), set when
 * the sidecar answers the batch (after its last outcome), so at the latest when the loop has
 * ended, early or not (the items left are cancelled and counted); `undefined` before, and
 * after a crash or an abort that left none.
 */
export interface AsCompleted<T> extends AsyncGenerator<T, void, undefined> {
  readonly stats: BatchStats | undefined;
}

/**
 * What `gather` resolves with: one slot per item in input order (its value, or with
 * `returnExceptions` its error), plus the Python client's `outcomes` and `stats`
 * (non-enumerable, so the array prints and compares as a plain one).
 */
export type GatherResults<T> = T[] & {
  /** Every item's outcome (attempts, latency, key), in input order. */
  readonly outcomes: Outcome<Exclude<T, VolleyError>>[];
  /** The batch's totals. */
  readonly stats: BatchStats;
};

export interface ProviderLimits {
  concurrency?: number;
  rpm?: number;
  tpm?: number;
  /** Anthropic-style separate input and output token budgets per minute. */
  itpm?: number;
  otpm?: number;
  /** Requests allowed back to back after idle (default: 20 ms worth of `rpm`, at least 1). */
  burst?: number;
  /** Tokens a token bucket holds (default: a minute's budget). */
  token_burst?: number;
  tokenBurst?: number;
  /** Whether rate and concurrency correct themselves from the server's refusals (default true). */
  adaptive?: boolean;
}

/** A model's price, in dollars per million tokens (sent as `{input, output, cached_input}`). */
export interface ModelPrice {
  input: number;
  output: number;
  /** The price of the prompt tokens served from the provider's cache (`usage.cachedInputTokens`); default `input`. */
  cached_input?: number;
  cachedInput?: number;
  /** Dollars per call on top of the tokens (a gateway's or a hosted tool's fee); default 0. */
  per_request?: number;
  perRequest?: number;
}

/**
 * What a provider's API key may spend through the sidecar, in dollars (sent as
 * `{max_cost_usd, per}`): held like a batch's `maxCostUsd`, across every batch, call and (in
 * shared mode) host on the key. An item it cannot afford fails with `BudgetExceeded`, its
 * message starting `providers.NAME.budget:`, and is not sent.
 */
export type ProviderBudget = (
  | { max_cost_usd: number; maxCostUsd?: undefined }
  | { maxCostUsd: number; max_cost_usd?: undefined }
) & {
  /** `lifetime` (the default): since the sidecar started; `day`: any rolling 24 hours. */
  per?: 'lifetime' | 'day';
};

/** A provider's `budget` as `stats()` shows it. */
export interface ProviderBudgetStats {
  maxCostUsd: number;
  per: 'lifetime' | 'day';
  /** Dollars spent on the key (in the current 24 hours for `per: 'day'`). */
  spentUsd: number;
  /** Dollars reserved now for the worst cases of the calls in flight. */
  reservedUsd: number;
}

/** One provider's configuration. Fields may be written in camelCase or snake_case. */
export interface ProviderConfig {
  kind?: 'openai' | 'anthropic' | 'mock';
  base_url?: string;
  baseUrl?: string;
  /** Environment variable holding the key (preferred to `api_key`). */
  api_key_env?: string;
  apiKeyEnv?: string;
  api_key?: string;
  apiKey?: string;
  limits?: ProviderLimits;
  retry?: {
    max_retries?: number;
    maxRetries?: number;
    /** Seconds. */
    initial_delay?: number;
    initialDelay?: number;
    /** Seconds. */
    max_delay?: number;
    maxDelay?: number;
    /** Seconds. */
    max_retry_after?: number;
    maxRetryAfter?: number;
    /** Seconds an item may wait on its limits (and back off after 429s) in total. */
    max_wait?: number;
    maxWait?: number;
  };
  /** Seconds: `connect`, and `request` (one attempt). */
  timeouts?: { connect?: number; request?: number };
  /** Extra request headers, sent as written. */
  headers?: Record<string, string>;
  ca_file?: string | null;
  caFile?: string | null;
  /** `mock` only: milliseconds before each reply. */
  latency_ms?: number;
  latencyMs?: number;
  /**
   * Per model, keyed by the model's exact name: its `limits`, and its `price` (this provider's
   * own, used before Volley's shipped list; for `costUsd` and `maxCostUsd` budgets).
   */
  models?: Record<string, { limits?: ProviderLimits; price?: ModelPrice }>;
  /** What the key may spend through the sidecar (see `ProviderBudget`). */
  budget?: ProviderBudget;
  [field: string]: unknown;
}

export interface VolleyOptions {
  /**
   * Shared mode: connect to the volley daemon serving the default socket (`defaultSocketPath()`),
   * starting it (detached, outliving this process) when none is running, instead of spawning a
   * sidecar of this Volley's own. Default `false` (stdio). `false` together with `socket` throws.
   */
  shared?: boolean;
  /** Shared mode at this socket path (implies `shared: true`). */
  socket?: string;
  /** Path of the `volley` executable. Default: `VOLLEY_BIN`, `volley` on PATH, the checkout's build. */
  binary?: string;
  /** Providers sent in `initialize` (and again to a restarted sidecar). */
  providers?: Record<string, ProviderConfig>;
  /** Provider for items that name none. */
  defaultProvider?: string;
  /** Model for items whose request names none (client-side; the sidecar has no default model). */
  defaultModel?: string;
  /**
   * `--config FILE`: a JSON file `{"providers": {...}, "default_provider": "..."}`. This and the
   * other command-line options (`logLevel`, `maxLineBytes`, `args`) reach a shared daemon only
   * when this Volley is the one that starts it.
   */
  configPath?: string;
  /** `--log-level` of the sidecar's stderr (default `warning`). */
  logLevel?: 'trace' | 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical';
  /** `--max-line-bytes` (default 16 MiB): the largest request line the sidecar accepts. */
  maxLineBytes?: number;
  /** Extra command-line arguments. */
  args?: string[];
  /**
   * Environment of the sidecar, merged over `process.env` (API keys live here); `undefined`
   * removes a variable. In shared mode the session gets this environment's OPENAI_API_KEY,
   * ANTHROPIC_API_KEY, OPENAI_BASE_URL, ANTHROPIC_BASE_URL and the variable of each `apiKeyEnv`
   * of `providers` and of the `configPath` file (in `initialize`); a daemon this Volley starts
   * gets all of it.
   */
  env?: Record<string, string | undefined>;
  /** Consecutive crashes (with no answer in between) after which no new sidecar is started. Default 3. */
  maxRestarts?: number;
  /**
   * Every line the sidecar writes to stderr. The last 50 are kept for crash messages anyway.
   * A shared daemon's stderr goes to `volley.log` next to its socket: this sees only the
   * client's own notes.
   */
  onStderr?: (line: string) => void;
}

export interface BatchStats {
  succeeded: number;
  failed: number;
  cancelled: number;
  elapsedMs: number;
  usage: Usage;
  /** Dollars the priced successes cost (0 when none). */
  costUsd: number;
  /** Successes whose model has no price (not in `costUsd`). */
  costUnknown: number;
  /** Items that failed with `BudgetExceeded`. */
  budgetExceeded: number;
}

/** `stats()`: counters since the sidecar started and gauges now. */
export interface Stats {
  uptimeMs: number;
  batchesActive: number;
  inFlight: number;
  queued: number;
  completed: number;
  failed: number;
  cancelled: number;
  retries: number;
  rateLimited: number;
  connectionsOpened: number;
  connectionsReused: number;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null } | null;
  /** Keyed by model name. */
  usage: Record<string, Usage>;
  /** Dollars spent, keyed by the model the provider reported. */
  costUsd?: Record<string, number>;
  /** Successes whose model has no price. */
  costUnknown?: number;
  /** Keyed `provider/model`. In shared mode each lists the `connections` (ids) using it. */
  limiters: Record<
    string,
    { inFlight: number; queued: number; concurrency?: number; connections?: number[]; [field: string]: unknown }
  >;
  /**
   * Keyed by provider name. Keys are never included, only `apiKeyEnv` and `hasKey`. `budget`:
   * for a provider with one, what its key has spent and holds reserved.
   */
  providers: Record<
    string,
    { kind: string; baseUrl?: string; apiKeyEnv?: string | null; hasKey?: boolean; limits: ProviderLimits; budget?: ProviderBudgetStats }
  >;
  /** Shared mode: this connection's id. */
  connection?: number;
  /** Shared mode: every connection to the daemon, sorted by id. */
  connections?: ConnectionStats[];
  [field: string]: unknown;
}

/** One connection to a shared daemon, as `stats()` lists it. */
export interface ConnectionStats {
  id: number;
  /** The host's process id (from the socket's peer credentials). */
  pid: number;
  /** `name version` from the host's `initialize`, or `null`. */
  client: string | null;
  itemsPending: number;
  requestsRunning: number;
}

/** What `initialize` answered. */
export interface ServerInfo {
  protocolVersion: number;
  /** `pid`: the volley process (the sidecar, or the shared daemon). */
  server: { name: string; version: string; pid?: number };
  /** Shared mode: this connection's id (as in `stats().connections`). */
  connection?: number;
  capabilities: {
    methods: string[];
    providerKinds: string[];
    providers: string[];
    defaultProvider: string | null;
  };
  limits: { maxLineBytes: number; maxItemsPerBatch: number; maxConcurrency: number };
}

export declare class Volley {
  /** @throws {TypeError} for an unknown option (naming the closest one), or `shared: false` with `socket`. */
  constructor(options?: VolleyOptions);
  /** The process id of the sidecar or of the shared daemon, or `undefined` when there is no session. */
  readonly pid: number | undefined;
  /** The shared daemon's socket path; `undefined` in stdio mode. */
  readonly socketPath: string | undefined;
  /** What `initialize` answered; `undefined` before the sidecar has started. */
  readonly info: ServerInfo | undefined;
  /** Starts the sidecar now (otherwise the first call does). */
  start(): Promise<ServerInfo>;

  /** One slot per item, in input order; each item's value type follows its endpoint (`ValueOf`). */
  gather<I extends ItemLike>(items: Iterable<I>, options: GatherOptions & { returnExceptions: true }): Promise<GatherResults<ValueOf<I> | VolleyError>>;
  gather<I extends ItemLike>(items: Iterable<I>, options?: GatherOptions & { returnExceptions?: false }): Promise<GatherResults<ValueOf<I>>>;
  gather<I extends ItemLike>(items: Iterable<I>, options?: GatherOptions): Promise<GatherResults<ValueOf<I> | VolleyError>>;

  /**
   * Yields outcomes as items finish; leaving the loop early cancels the rest. The generator's
   * `stats` is the batch's stats once the loop has ended.
   */
  asCompleted<I extends ItemLike>(items: Iterable<I>, options: AsCompletedOptions & { deltas: true }): AsCompleted<AsCompletedEvent<ValueOf<I>>>;
  asCompleted<I extends ItemLike>(items: Iterable<I>, options?: AsCompletedOptions & { deltas?: false }): AsCompleted<Outcome<ValueOf<I>>>;
  asCompleted<I extends ItemLike>(items: Iterable<I>, options?: AsCompletedOptions): AsCompleted<Outcome<ValueOf<I>> | AsCompletedEvent<ValueOf<I>>>;

  /** One item's value (its type follows the item's endpoint); a failure rejects with its typed error. */
  call<I extends ItemLike>(item: I, options?: { signal?: AbortSignal }): Promise<ValueOf<I>>;

  /**
   * The vectors of `texts` (a string alone is one text), in order, sent `batchSize` texts to an
   * embeddings request, the requests run as one batch. The first request to fail rejects with
   * its typed error once the others are cancelled; its `key` is `"start:stop"`, the slice of
   * `texts` it held.
   * @throws {TypeError} for `key` or an unknown option.
   */
  embed(texts: string | ReadonlyArray<string | number[]>, options?: EmbedTextsOptions): Promise<Float32Array[]>;

  /**
   * Streams one item (`call` with `stream: true`): iterate the result once for its chunks,
   * then read `result`. A prompt takes `chat()`'s options; an item only `signal`.
   */
  stream(prompt: string | Message[], options?: StreamOptions): ChatStream;
  stream(item: Item, options?: { signal?: AbortSignal }): ChatStream;

  stats(options?: { signal?: AbortSignal }): Promise<Stats>;
  /** Adds or replaces providers, sets the default; remembered across restarts. */
  configure(
    config: { providers?: Record<string, ProviderConfig>; defaultProvider?: string },
    options?: { signal?: AbortSignal },
  ): Promise<{ providers: string[]; defaultProvider: string | null }>;
  ping(options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * `shutdown` (`drain` lets running work finish; `cancel` stops it), `exit`, and a kill if the
   * process has not exited within `timeout` seconds (default 10). Later calls reject. In shared
   * mode this ends this connection's session only: the daemon keeps running.
   */
  close(options?: { mode?: 'drain' | 'cancel'; timeout?: number }): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export type ErrorKind =
  | 'rate_limited'
  | 'quota_exceeded'
  | 'too_large'
  | 'http'
  | 'timeout'
  | 'deadline_exceeded'
  | 'connection'
  | 'cancelled'
  | 'invalid_request'
  | 'provider_error'
  | 'overloaded'
  | 'shared_limits_unavailable'
  | 'budget_exceeded';

/** Base of every error of this library except `AbortError`. */
export declare class VolleyError extends Error {
  constructor(
    message: string,
    fields?: {
      kind?: string;
      status?: number;
      retryable?: boolean;
      providerCode?: string;
      attempts?: number;
      index?: number;
      key?: string;
      cause?: unknown;
    },
  );
  /** An `ErrorKind` for item errors; `protocol`, `sidecar_crashed` or `closed` otherwise. */
  kind: ErrorKind | 'protocol' | 'sidecar_crashed' | 'closed' | (string & {}) | undefined;
  /** The HTTP status, when there was one. */
  status: number | undefined;
  /** Whether the kind is retried (it may still be final when retries ran out). */
  retryable: boolean;
  /** The provider's own error code or type (e.g. `context_length_exceeded`). */
  providerCode: string | undefined;
  /**
   * HTTP attempts made (0 when the item never started), for batch items and `call()` failures
   * alike; `undefined` for errors that are not about one item.
   */
  attempts: number | undefined;
  /** The item's position in its batch. */
  index: number | undefined;
  key: string | undefined;
  /**
   * Set on the error `gather` rejects with: every slot of the batch, values and errors (this
   * error among them), with `outcomes` and `stats`. Not enumerable.
   */
  results?: GatherResults<Value | VolleyError>;
}

export declare class RateLimited extends VolleyError {}
export declare class QuotaExceeded extends VolleyError {}
export declare class TooLarge extends VolleyError {}
export declare class HTTPError extends VolleyError {}
export declare class Timeout extends VolleyError {}
export declare class DeadlineExceeded extends VolleyError {}
export declare class ConnectionFailed extends VolleyError {}
export declare class Cancelled extends VolleyError {}
export declare class InvalidRequest extends VolleyError {}
export declare class ProviderError extends VolleyError {}
/** Limits are shared in Redis (`on_unavailable: "fail"`) and Redis is unreachable: not sent. */
export declare class SharedLimitsUnavailable extends VolleyError {}
/**
 * The batch's `max_cost_usd`, or the provider's `budget` (the message then starts
 * `providers.NAME.budget:`), cannot afford the call's worst case (or has no price for it): not sent.
 */
export declare class BudgetExceeded extends VolleyError {}
export declare class Overloaded extends VolleyError {}

/** A JSON-RPC error that is not an item failure (bad params, line too long, overloaded...). */
export declare class ProtocolError extends VolleyError {
  constructor(message: string, code: number, data?: unknown);
  /** The JSON-RPC error code (-32602, -32010, -32011, ...). */
  code: number;
  /** The error's `data`, as sent (snake_case). */
  data: unknown;
}

/**
 * The volley server speaks another version of the protocol than this client: the call that
 * opened the session rejects with it, the session is closed, nothing else was sent. The message
 * names the binary or daemon and what to do.
 */
export declare class ProtocolVersionMismatch extends VolleyError {
  constructor(message: string, fields: { clientProtocol: number; serverProtocols: unknown[]; serverVersion?: string });
  /** The protocol version this client speaks (`PROTOCOL_VERSION`). */
  clientProtocol: number;
  /** The versions the server named; empty when it named none. */
  serverProtocols: unknown[];
  /** The server's release, when it said. */
  serverVersion: string | undefined;
}

/**
 * The sidecar could not be started, or exited with requests pending. In shared mode: the daemon
 * could not be reached or started, or the connection to it was lost with requests pending.
 */
export declare class SidecarCrashed extends VolleyError {
  constructor(
    message: string,
    fields?: { exitCode?: number | null; signal?: string | null; stderr?: string[]; cause?: unknown },
  );
  /** How the sidecar (or a daemon this Volley started and that failed) exited; `null` when unknown. */
  exitCode: number | null;
  signal: string | null;
  /** The last lines the sidecar wrote to stderr; for a daemon that would not start, its log's. */
  stderr: string[];
}

/** What a call rejects with when its signal fires; `cause` is the signal's reason. */
export declare class AbortError extends Error {
  constructor(message: string, reason: unknown);
  name: 'AbortError';
  /** For `gather`: every slot as the sidecar reported it when it stopped (with `outcomes` and `stats`). */
  results: GatherResults<Value | VolleyError> | undefined;
  stats: BatchStats | undefined;
}

/**
 * Where the sidecar binary is: `explicit`, the package's own `bin/volley` (in the tarball
 * scripts/package makes), `VOLLEY_BIN`, PATH, then the checkout's build.
 */
export function findBinary(explicit?: string, env?: Record<string, string | undefined>): string;

/** This library's version: the volley binary of the same release has the same. */
export const VERSION: string;

/** The version of docs/protocol.md this client speaks, in `initialize`. */
export const PROTOCOL_VERSION: number;

/**
 * The shared daemon's default socket: `$VOLLEY_SOCKET`, else `$XDG_RUNTIME_DIR/volley/volley.sock`,
 * else `/tmp/volley-<uid>/volley.sock` (empty variables count as unset). `env` defaults to `process.env`.
 */
export function defaultSocketPath(env?: Record<string, string | undefined>): string;
