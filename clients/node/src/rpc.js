// One JSON-RPC session with volley over a transport: line framing both ways, matching responses
// to requests by id, routing notifications, and noticing when the session ends.
//
// This layer knows JSON-RPC and nothing of batches (`Volley` turns results and errors into the
// API's shapes) and nothing of how the bytes travel: a transport is either a child process's
// pipes (`ProcessTransport`, src/sidecar.js) or a Unix socket to a shared daemon
// (`SocketTransport`, src/daemon.js). Both have the shape of `Transport` below.

import { ProtocolError, SidecarCrashed, VolleyError } from './errors.js';
import { LineSplitter } from './lines.js';

/** How many diagnostic lines (the sidecar's stderr, the client's notes) are kept for crash messages. */
const TAIL_LINES = 50;

/**
 * @typedef {object} TransportHandlers
 * @property {(chunk: Buffer) => void} data bytes of protocol output
 * @property {() => void} eof the protocol output ended
 * @property {(line: string) => void} log a diagnostic line (the sidecar's stderr)
 * @property {(cause?: Error) => void} end the transport is gone (`cause`: it never started)
 */

/**
 * @typedef {object} Transport
 * @property {number | undefined} pid the volley process's id, when known
 * @property {(handlers: TransportHandlers) => void} attach called once, right away
 * @property {(line: string) => void} write
 * @property {() => void} endInput no more input: stdin EOF, or a socket's half-close
 * @property {() => void} abort the end, now: SIGKILL to a child, `destroy()` of a socket
 * @property {(on: boolean) => void} setRef whether the transport keeps Node's event loop alive
 * @property {(pending: number, cause?: Error) => EndReport} describeEnd what to say when the
 *   session ended unasked, with `pending` requests unanswered
 */

/**
 * @typedef {object} EndReport
 * @property {string} headline e.g. `volley stopped with 2 request(s) pending`
 * @property {string} detail e.g. `volley killed by SIGKILL`
 * @property {number | null} exitCode
 * @property {string | null} signal
 * @property {string} tailLabel what the diagnostic lines are, e.g. `last stderr`
 */

/**
 * @typedef {object} Pending
 * @property {string} method
 * @property {(result: any) => void} resolve
 * @property {(error: Error) => void} reject
 * @property {((method: string, params: any) => void) | undefined} onNotification
 */

export class Connection {
  /** @type {Transport} */
  #transport;
  /** @type {Map<number, Pending>} */
  #pending = new Map();
  #nextId = 1;
  /** @type {string[]} */
  #tail = [];
  /** @type {((line: string) => void) | undefined} */
  #onStderr;
  /** @type {(connection: Connection, error: SidecarCrashed | undefined) => void} */
  #onEnd;
  /** Longest line volley accepts; requests above it are refused here, not sent. */
  maxLineBytes = Infinity;
  #closing = false;
  #retiring = false;
  #inputEnded = false;
  #ended = false;
  /** Resolves when the transport is gone and every pending call has settled. */
  ended;
  #refed = true;
  /** @type {(value?: unknown) => void} */
  #markEnded = () => {};

  /**
   * @param {Transport} transport
   * @param {{onStderr?: (line: string) => void,
   *          onEnd: (connection: Connection, error: SidecarCrashed | undefined) => void}} options
   */
  constructor(transport, { onStderr, onEnd }) {
    this.#transport = transport;
    this.#onStderr = onStderr;
    this.#onEnd = onEnd;
    this.ended = new Promise((resolve) => (this.#markEnded = resolve));
    const lines = new LineSplitter((line) => this.#receive(line));
    transport.attach({
      data: (chunk) => lines.push(chunk),
      eof: () => lines.end(),
      log: (line) => this.#logLine(line),
      end: (cause) => this.#end(cause),
    });
    this.#updateRef();
  }

  /** The volley process's id (for diagnostics and tests). */
  get pid() {
    return this.#transport.pid;
  }

  /** The last diagnostic lines, oldest first. */
  get stderrTail() {
    return [...this.#tail];
  }

  get isEnded() {
    return this.#ended;
  }

  /** True once volley is known to be on its way out (it got a signal): use a new session. */
  get isRetiring() {
    return this.#retiring;
  }

  /**
   * Marks the session as going away (volley cancelled work no one asked it to cancel: it got
   * SIGTERM/SIGINT). New requests go to a new session; this one gets EOF and finishes on its own.
   */
  retire() {
    if (this.#retiring || this.#ended || this.#closing) return;
    this.#retiring = true;
    this.#endInput();
  }

  get pendingCount() {
    return this.#pending.size;
  }

  /**
   * Sends a request. The promise resolves with `result`, or rejects with a `ProtocolError`
   * (the JSON-RPC error as sent) or `SidecarCrashed`.
   * @param {string} method
   * @param {unknown} params
   * @param {(method: string, params: any) => void} [onNotification] notifications whose
   *   `params.request` is this request's id (`item`, `progress`)
   * @returns {{id: number, promise: Promise<any>}}
   */
  request(method, params, onNotification) {
    const id = this.#nextId++;
    const promise = new Promise((resolve, reject) => {
      if (this.#ended) {
        reject(this.#crashError(0, undefined, 'volley is not running'));
        return;
      }
      const message = params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };
      const line = JSON.stringify(message) + '\n';
      // A line volley would discard is answered with `id: null`, which no one could match:
      // refuse it here instead.
      if (this.maxLineBytes !== Infinity && line.length > this.maxLineBytes / 3) {
        const bytes = Buffer.byteLength(line) - 1;
        if (bytes > this.maxLineBytes) {
          reject(
            new ProtocolError(`${method} request is ${bytes} bytes on the wire; the sidecar accepts at most ${this.maxLineBytes} (the maxLineBytes option)`, -32010, {
              byte_count: bytes,
              max_line_bytes: this.maxLineBytes,
            }),
          );
          return;
        }
      }
      this.#pending.set(id, { method, resolve, reject, onNotification });
      this.#updateRef();
      this.#write(line);
    });
    return { id, promise };
  }

  /**
   * Sends a notification (no reply).
   * @param {string} method
   * @param {unknown} params
   */
  notify(method, params) {
    if (this.#ended) return;
    this.#write(JSON.stringify(params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params }) + '\n');
  }

  /**
   * Stops waiting for a request's reply (it is ignored when it comes) and rejects its promise.
   * @param {number} id
   * @param {Error} error
   */
  forget(id, error) {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    this.#updateRef();
    pending.reject(error);
  }

  /**
   * `shutdown` (letting running work drain, or cancelling it), then `exit`, then end of input;
   * the transport is aborted if it has not ended within `timeoutMs`. On a shared daemon this
   * ends this connection's session only.
   * @param {'drain' | 'cancel'} mode
   * @param {number} timeoutMs
   */
  async close(mode, timeoutMs) {
    if (this.#ended) return;
    this.#closing = true;
    this.#setRef(true);
    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    const deadline = new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs, 'timeout')));
    try {
      const { promise: shutdown } = this.request('shutdown', { mode });
      const answered = await Promise.race([shutdown.then(() => 'ok', () => 'failed'), deadline, this.ended]);
      if (answered === 'ok') this.notify('exit', undefined);
      this.#endInput();
      const exited = answered === 'timeout' ? 'timeout' : await Promise.race([this.ended.then(() => 'ended'), deadline]);
      if (exited === 'timeout' && !this.#ended) {
        this.#note(`aborted: volley did not end the session within ${timeoutMs} ms of close()`);
        this.abort();
      }
      await this.ended;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the session at once: a stdio sidecar is killed, a daemon connection is dropped. */
  abort() {
    if (this.#ended) return;
    this.#transport.abort();
  }

  /** @param {string} line */
  #write(line) {
    if (this.#inputEnded) return;
    this.#transport.write(line);
  }

  #endInput() {
    if (this.#inputEnded) return;
    this.#inputEnded = true;
    this.#transport.endInput();
  }

  /** @param {string} line */
  #receive(line) {
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      this.#note(`unparseable line from volley: ${line.slice(0, 200)}`);
      return;
    }
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      this.#note(`unexpected message from volley: ${line.slice(0, 200)}`);
      return;
    }
    if (typeof message.method === 'string') {
      const requestId = message.params?.request;
      const pending = typeof requestId === 'number' ? this.#pending.get(requestId) : undefined;
      pending?.onNotification?.(message.method, message.params);
      return;
    }
    if (typeof message.id !== 'number') {
      // `id: null`: an error about a line we could not have sent (we never send invalid JSON
      // or over-long lines), or a daemon refusing the connection (-32012, another uid); kept
      // for the error that follows.
      this.#note(`reply with id ${JSON.stringify(message.id)}: ${line.slice(0, 300)}`);
      return;
    }
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    this.#updateRef();
    if (message.error) {
      const { code, message: text, data } = message.error;
      pending.reject(new ProtocolError(typeof text === 'string' ? text : `error ${code}`, code, data));
    } else {
      pending.resolve(message.result);
    }
  }

  /** @param {string} line */
  #logLine(line) {
    this.#tail.push(line);
    if (this.#tail.length > TAIL_LINES) this.#tail.shift();
    this.#onStderr?.(line);
  }

  /** @param {string} text */
  #note(text) {
    this.#logLine(`[volley-node] ${text}`);
  }

  /**
   * @param {number} pending
   * @param {Error} [cause]
   * @param {string} [headline] instead of the transport's
   */
  #crashError(pending, cause, headline) {
    const end = this.#transport.describeEnd(pending, cause);
    const tail = this.#tail.slice(-10);
    const message =
      `${headline ?? end.headline}: ${end.detail}` +
      (cause || !tail.length ? '' : `; ${end.tailLabel}:\n  ${tail.join('\n  ')}`);
    return new SidecarCrashed(message, { exitCode: end.exitCode, signal: end.signal, stderr: [...this.#tail], cause });
  }

  /** @param {Error | undefined} cause the transport never started */
  #end(cause) {
    if (this.#ended) return;
    this.#ended = true;
    const count = this.#pending.size;
    const crash = this.#closing && !cause ? undefined : this.#crashError(count, cause);
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(crash ?? new VolleyError('volley was closed before answering', { kind: 'closed' }));
    this.#setRef(false);
    this.#onEnd(this, crash);
    this.#markEnded();
  }

  // The transport keeps the event loop alive only while requests are pending (or during
  // close), so a script that forgets close() still exits; volley then sees EOF.
  #updateRef() {
    if (this.#closing) return;
    this.#setRef(this.#pending.size > 0);
  }

  /** @param {boolean} on */
  #setRef(on) {
    if (on === this.#refed) return;
    this.#refed = on;
    this.#transport.setRef(on);
  }
}
