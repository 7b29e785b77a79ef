// Volley for Node.js: run batches of LLM calls through the `volley` sidecar.
// Types: ../index.d.ts. Protocol: docs/protocol.md in the Volley repository.

export { Volley } from './volley.js';
export { ITEM_FIELDS, REQUEST_PARAMS, chat, complete, decodeEmbedding, embed, post, respond } from './convert.js';
export { ChatStream, StreamAssembler } from './stream.js';
export { findBinary } from './binary.js';
export { defaultSocketPath } from './daemon.js';
export { PROTOCOL_VERSION, VERSION } from './version.js';
export {
  AbortError,
  Cancelled,
  ConnectionFailed,
  DeadlineExceeded,
  HTTPError,
  InvalidRequest,
  Overloaded,
  ProtocolError,
  ProtocolVersionMismatch,
  ProviderError,
  QuotaExceeded,
  RateLimited,
  SharedLimitsUnavailable,
  BudgetExceeded,
  SidecarCrashed,
  Timeout,
  TooLarge,
  VolleyError,
} from './errors.js';
