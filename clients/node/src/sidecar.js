// One running `volley` process: spawning, line framing both ways, matching responses to
// requests by id, routing notifications, stderr, and noticing when it dies.
//
// This layer knows JSON-RPC and nothing of batches; `Volley` turns results and errors into the
// API's shapes.

import { spawn } from 'node:child_process';
import { ProtocolError, SidecarCrashed, VolleyError } from './errors.js';
import { LineSplitter } from './lines.js';

/** How many stderr lines are kept for crash messages. */
const STDERR_TAIL_LINES = 50;

/**
 * @typedef {object} Pending
 * @property {string} method
 * @property {(result: any) => void} resolve
 * @property {(error: Error) => void} reject
 * @property {((method: string, params: any) => void) | undefined} onNotification
 */

export class Sidecar {
  /** @type {import('node:child_process').ChildProcess} */
  #child;
  /** @type {Map<number, Pending>} */
  #pending = new Map();
  #nextId = 1;
  /** @type {string[]} */
  #stderrTail = [];
  /** @type {((line: string) => void) | undefined} */
  #onStderr;
  /** @type {(sidecar: Sidecar, error: SidecarCrashed | undefined) => void} */
  #onEnd;
  /** Longest line the sidecar accepts; requests above it are refused here, not sent. */
  maxLineBytes = Infinity;
  #closing = false;
  #retiring = false;
  #ended = false;
  /** @type {number | null} */
  exitCode = null;
  /** @type {string | null} */
  signalCode = null;
  /** Resolves when the process is gone and every pending call has settled. */
  ended;
  #refed = true;
  /** @type {(value?: unknown) => void} */
  #markEnded = () => {};

  /**
   * @param {{binary: string, args: string[], env: NodeJS.ProcessEnv,
   *          onStderr?: (line: string) => void,
   *          onEnd: (sidecar: Sidecar, error: SidecarCrashed | undefined) => void}} options
   */
  constructor({ binary, args, env, onStderr, onEnd }) {
    this.binary = binary;
    this.#onStderr = onStderr;
    this.#onEnd = onEnd;
    this.#child = spawn(binary, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const child = this.#child;
    this.ended = new Promise((resolve) => (this.#markEnded = resolve));

    /** @type {Error | undefined} */
    let spawnError;
    child.on('error', (error) => {
      if (child.pid === undefined) {
        // ENOENT/EACCES: there never was a process.
        spawnError = error;
        this.#end(spawnError);
      } else {
        this.#note(`child process error: ${error.message}`);
      }
    });
    child.on('exit', (code, signal) => {
      this.exitCode = code;
      this.signalCode = signal;
      // 'close' follows once stdout and stderr are drained; do not wait forever for it if
      // something else inherited the pipes.
      setTimeout(() => this.#end(spawnError), 1000).unref();
    });
    child.on('close', () => this.#end(spawnError));

    const stdout = new LineSplitter((line) => this.#receive(line));
    child.stdout?.on('data', (chunk) => stdout.push(chunk));
    child.stdout?.on('end', () => stdout.end());
    const stderr = new LineSplitter((line) => this.#stderrLine(line));
    child.stderr?.on('data', (chunk) => stderr.push(chunk));
    child.stderr?.on('end', () => stderr.end());
    // A write to a dead process fails with EPIPE; the exit handler reports it.
    child.stdin?.on('error', () => {});
    this.#updateRef();
  }

  /** The process id (for diagnostics and tests). */
  get pid() {
    return this.#child.pid;
  }

  /** The last lines of stderr, oldest first. */
  get stderrTail() {
    return [...this.#stderrTail];
  }

  get isEnded() {
    return this.#ended;
  }

  /** True once the process is known to be on its way out (it got a signal): use a new one. */
  get isRetiring() {
    return this.#retiring;
  }

  /**
   * Marks the process as going away (it cancelled work no one asked it to cancel: it got
   * SIGTERM/SIGINT). New requests go to a new process; this one gets EOF and finishes on its own.
   */
  retire() {
    if (this.#retiring || this.#ended) return;
    this.#retiring = true;
    this.#child.stdin?.end();
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
        reject(this.#crashError('volley is not running'));
        return;
      }
      const message = params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };
      const line = JSON.stringify(message) + '\n';
      // A line the sidecar would discard is answered with `id: null`, which no one could match:
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
    this.#write(JSON.stringify({ jsonrpc: '2.0', method, params }) + '\n');
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
   * `shutdown` (letting running work drain, or cancelling it), then `exit`, then stdin EOF; the
   * process is killed if it has not exited within `timeoutMs`.
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
      this.#child.stdin?.end();
      const exited = answered === 'timeout' ? 'timeout' : await Promise.race([this.ended.then(() => 'ended'), deadline]);
      if (exited === 'timeout' && !this.#ended) {
        this.#note(`killed: no exit within ${timeoutMs} ms of close()`);
        this.kill('SIGKILL');
      }
      await this.ended;
    } finally {
      clearTimeout(timer);
    }
  }

  /** @param {NodeJS.Signals} signal */
  kill(signal) {
    if (this.#ended) return;
    try {
      this.#child.kill(signal);
    } catch {
      // already gone
    }
  }

  /** @param {string} line */
  #write(line) {
    this.#child.stdin?.write(line);
  }

  /** @param {string} line */
  #receive(line) {
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      this.#note(`unparseable line on stdout: ${line.slice(0, 200)}`);
      return;
    }
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      this.#note(`unexpected message on stdout: ${line.slice(0, 200)}`);
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
      // or over-long lines); keep it for diagnostics.
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
  #stderrLine(line) {
    this.#stderrTail.push(line);
    if (this.#stderrTail.length > STDERR_TAIL_LINES) this.#stderrTail.shift();
    this.#onStderr?.(line);
  }

  /** @param {string} text */
  #note(text) {
    this.#stderrLine(`[volley-node] ${text}`);
  }

  /**
   * @param {string} what
   * @param {Error} [cause]
   */
  #crashError(what, cause) {
    const how =
      this.signalCode !== null ? `killed by ${this.signalCode}` : this.exitCode !== null ? `exited with code ${this.exitCode}` : 'ended';
    const tail = this.#stderrTail.slice(-10);
    const message = cause
      ? `${what}: could not run ${this.binary}: ${cause.message}`
      : `${what}: volley ${how}${tail.length ? `; last stderr:\n  ${tail.join('\n  ')}` : ''}`;
    return new SidecarCrashed(message, { exitCode: this.exitCode, signal: this.signalCode, stderr: [...this.#stderrTail], cause });
  }

  /** @param {Error | undefined} spawnError */
  #end(spawnError) {
    if (this.#ended) return;
    this.#ended = true;
    const count = this.#pending.size;
    const crash =
      this.#closing && !spawnError
        ? undefined
        : this.#crashError(count ? `volley stopped with ${count} request(s) pending` : 'volley stopped', spawnError);
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(crash ?? new VolleyError('volley was closed before answering', { kind: 'closed' }));
    this.#setRef(false);
    this.#onEnd(this, crash);
    this.#markEnded();
  }

  // The child, its stdout and stdin keep the event loop alive only while requests are pending
  // (or during close), so a script that forgets close() still exits; the sidecar then sees EOF.
  #updateRef() {
    if (this.#closing) return;
    this.#setRef(this.#pending.size > 0);
  }

  /** @param {boolean} on */
  #setRef(on) {
    if (on === this.#refed) return;
    this.#refed = on;
    const child = this.#child;
    /** @type {any[]} */
    const handles = [child, child.stdout, child.stdin, child.stderr];
    for (const handle of handles) {
      if (!handle) continue;
      if (on) handle.ref?.();
      else handle.unref?.();
    }
  }
}
