// Typed errors. One class per protocol error kind, so callers can `instanceof` or switch on
// `err.kind`; the mapping from the wire lives in `itemError()` and nowhere else.

/**
 * Base class of every error an item or the sidecar can produce.
 *
 * Item errors (the subclasses named after error kinds) carry what the sidecar reported:
 * `kind`, `status` (HTTP status, when there was one), `retryable` (whether the kind is retried;
 * it may still be final when retries ran out), `providerCode` (the provider's own error code or
 * type, e.g. `context_length_exceeded`), and from the outcome `attempts`, `index` and `key`.
 */
export class VolleyError extends Error {
  /**
   * @param {string} message
   * @param {{kind?: string, status?: number, retryable?: boolean, providerCode?: string,
   *          attempts?: number, index?: number, key?: string, cause?: unknown}} [fields]
   */
  constructor(message, fields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = new.target.name;
    /** @type {string | undefined} */
    this.kind = fields.kind;
    /** @type {number | undefined} */
    this.status = fields.status;
    /** @type {boolean} */
    this.retryable = fields.retryable ?? false;
    /** @type {string | undefined} */
    this.providerCode = fields.providerCode;
    /** @type {number | undefined} */
    this.attempts = fields.attempts;
    /** @type {number | undefined} */
    this.index = fields.index;
    /** @type {string | undefined} */
    this.key = fields.key;
  }
}

/** 429 from the provider, after the configured retries. */
export class RateLimited extends VolleyError {}
/** 429 `insufficient_quota`: the account is out of credit; never retried. */
export class QuotaExceeded extends VolleyError {}
/** 413 or a context-length error: the request can never fit. */
export class TooLarge extends VolleyError {}
/** Any other HTTP status (`status` says which). */
export class HTTPError extends VolleyError {}
/** The item's own `timeout` passed (retries included), or one attempt took too long. */
export class Timeout extends VolleyError {}
/** The batch's `timeout` passed before this item finished. */
export class DeadlineExceeded extends VolleyError {}
/** DNS, connect, TLS or certificate failure, or the connection lost mid-response. */
export class ConnectionFailed extends VolleyError {}
/** The item was cancelled (`failFast`, a cancel, the sidecar shutting down). */
export class Cancelled extends VolleyError {}
/** The item itself is malformed (the message names the field). */
export class InvalidRequest extends VolleyError {}
/** The provider answered 2xx with a body Volley cannot read, or a stream was cut short. */
export class ProviderError extends VolleyError {}
/** 503 or 529: the provider is overloaded. */
export class Overloaded extends VolleyError {}
/** Limits are shared in Redis (`on_unavailable: "fail"`) and Redis is unreachable: not sent. */
export class SharedLimitsUnavailable extends VolleyError {}

/** The batch's `max_cost_usd` cannot afford the call's worst case (or has no price for it): not sent. */
export class BudgetExceeded extends VolleyError {}

/** Error kinds on the wire → classes. */
const classByKind = {
  rate_limited: RateLimited,
  quota_exceeded: QuotaExceeded,
  too_large: TooLarge,
  http: HTTPError,
  timeout: Timeout,
  deadline_exceeded: DeadlineExceeded,
  connection: ConnectionFailed,
  cancelled: Cancelled,
  invalid_request: InvalidRequest,
  provider_error: ProviderError,
  overloaded: Overloaded,
  shared_limits_unavailable: SharedLimitsUnavailable,
  budget_exceeded: BudgetExceeded,
};

/**
 * A JSON-RPC error the client does not turn into an item error: bad params (-32602), an unknown
 * method, a line too long (-32010), the sidecar overloaded (-32011), an internal error.
 */
export class ProtocolError extends VolleyError {
  /**
   * @param {string} message
   * @param {number} code the JSON-RPC error code
   * @param {unknown} [data] the error's `data`, as sent (snake_case)
   */
  constructor(message, code, data) {
    super(message, { kind: 'protocol' });
    /** @type {number} */
    this.code = code;
    /** @type {unknown} */
    this.data = data;
  }
}

/**
 * The volley server speaks another version of the protocol than this client. The call that
 * opened the session rejects with it when `initialize` is refused for its `protocol_version` or
 * answered with another; the session is closed and nothing else was sent. The message says
 * which binary or daemon it was and what to do.
 */
export class ProtocolVersionMismatch extends VolleyError {
  /**
   * @param {string} message
   * @param {{clientProtocol: number, serverProtocols: unknown[], serverVersion?: string}} fields
   */
  constructor(message, fields) {
    super(message, { kind: 'protocol_version' });
    /** The protocol version this client speaks. @type {number} */
    this.clientProtocol = fields.clientProtocol;
    /** The versions the server named (empty when it named none). @type {unknown[]} */
    this.serverProtocols = fields.serverProtocols;
    /** The server's release, when it said. @type {string | undefined} */
    this.serverVersion = fields.serverVersion;
  }
}

/**
 * The sidecar could not be started, or exited while requests were pending; in shared mode, the
 * daemon could not be reached or started, or the connection to it was lost. Every pending call
 * is rejected with it; the next call starts a new sidecar, or reconnects (starting a daemon if
 * none is running), up to `maxRestarts` times in a row.
 */
export class SidecarCrashed extends VolleyError {
  /**
   * @param {string} message
   * @param {{exitCode?: number | null, signal?: string | null, stderr?: string[], cause?: unknown}} [fields]
   */
  constructor(message, fields = {}) {
    super(message, { kind: 'sidecar_crashed', cause: fields.cause });
    /** @type {number | null} */
    this.exitCode = fields.exitCode ?? null;
    /** @type {string | null} */
    this.signal = fields.signal ?? null;
    /** The last lines the sidecar wrote to stderr. @type {string[]} */
    this.stderr = fields.stderr ?? [];
  }
}

/**
 * What a call rejects with when its `AbortSignal` fires: `name` is `'AbortError'` and `cause`
 * is the signal's reason, as with `fetch`. For a batch, `results` holds what the sidecar
 * reported when it stopped (values, and errors for the items it cancelled) and `stats` the
 * batch stats.
 */
export class AbortError extends Error {
  /**
   * @param {string} message
   * @param {unknown} reason
   */
  constructor(message, reason) {
    super(message, { cause: reason });
    this.name = 'AbortError';
    /** @type {Array<unknown> | undefined} */
    this.results = undefined;
    /** @type {object | undefined} */
    this.stats = undefined;
  }
}

/**
 * Builds the typed error for an outcome's `error` object.
 * @param {any} wire `{kind, message, status?, retryable, code?}`
 * @param {{attempts?: number, index?: number, key?: string}} [outcome]
 * @returns {VolleyError}
 */
export function itemError(wire, outcome = {}) {
  const kind = typeof wire?.kind === 'string' ? wire.kind : 'unknown';
  const Class = classByKind[/** @type {keyof typeof classByKind} */ (kind)] ?? VolleyError;
  return new Class(typeof wire?.message === 'string' ? wire.message : kind, {
    kind,
    status: wire?.status,
    retryable: wire?.retryable === true,
    providerCode: wire?.code,
    attempts: outcome.attempts,
    index: outcome.index,
    key: outcome.key,
  });
}
