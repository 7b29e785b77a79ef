// The stdio transport: a `volley` child process owned by one Volley, spoken to over its
// stdin/stdout, its stderr read continuously (so the pipe never fills).

import { spawn } from 'node:child_process';
import { LineSplitter } from './lines.js';

/**
 * The command-line flags a Volley passes to the volley it starts, a stdio sidecar or a shared
 * daemon alike.
 * @param {{configPath?: string, logLevel?: string, maxLineBytes?: number, args?: string[]}} options
 */
export function volleyFlags({ configPath, logLevel, maxLineBytes, args }) {
  const flags = [];
  if (configPath) flags.push('--config', configPath);
  if (logLevel) flags.push('--log-level', logLevel);
  if (maxLineBytes) flags.push('--max-line-bytes', String(maxLineBytes));
  if (args) flags.push(...args);
  return flags;
}

/** @implements {import('./rpc.js').Transport} */
export class ProcessTransport {
  /** @type {import('node:child_process').ChildProcess} */
  #child;
  #binary;
  /** @type {number | null} */
  #exitCode = null;
  /** @type {string | null} */
  #signal = null;

  /**
   * @param {string} binary
   * @param {string[]} args
   * @param {NodeJS.ProcessEnv} env
   */
  constructor(binary, args, env) {
    this.#binary = binary;
    this.#child = spawn(binary, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  get pid() {
    return this.#child.pid;
  }

  /** The executable this process runs. */
  get binary() {
    return this.#binary;
  }

  /** @param {import('./rpc.js').TransportHandlers} handlers */
  attach({ data, eof, log, end }) {
    const child = this.#child;
    /** @type {Error | undefined} */
    let spawnError;
    child.on('error', (error) => {
      if (child.pid === undefined) {
        // ENOENT/EACCES: there never was a process.
        spawnError = error;
        end(spawnError);
      } else {
        log(`[volley-node] child process error: ${error.message}`);
      }
    });
    child.on('exit', (code, signal) => {
      this.#exitCode = code;
      this.#signal = signal;
      // 'close' follows once stdout and stderr are drained; do not wait forever for it if
      // something else inherited the pipes.
      setTimeout(() => end(spawnError), 1000).unref();
    });
    child.on('close', () => end(spawnError));
    child.stdout?.on('data', data);
    child.stdout?.on('end', eof);
    const stderr = new LineSplitter(log);
    child.stderr?.on('data', (chunk) => stderr.push(chunk));
    child.stderr?.on('end', () => stderr.end());
    // A write to a dead process fails with EPIPE; the exit handler reports it.
    child.stdin?.on('error', () => {});
  }

  /** @param {string} line */
  write(line) {
    this.#child.stdin?.write(line);
  }

  endInput() {
    this.#child.stdin?.end();
  }

  abort() {
    try {
      this.#child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  /** @param {boolean} on */
  setRef(on) {
    const child = this.#child;
    /** @type {any[]} */
    const handles = [child, child.stdout, child.stdin, child.stderr];
    for (const handle of handles) {
      if (!handle) continue;
      if (on) handle.ref?.();
      else handle.unref?.();
    }
  }

  /**
   * @param {number} pending
   * @param {Error} [cause]
   * @returns {import('./rpc.js').EndReport}
   */
  describeEnd(pending, cause) {
    const how =
      this.#signal !== null ? `killed by ${this.#signal}` : this.#exitCode !== null ? `exited with code ${this.#exitCode}` : 'ended';
    return {
      headline: pending ? `volley stopped with ${pending} request(s) pending` : 'volley stopped',
      detail: cause ? `could not run ${this.#binary}: ${cause.message}` : `volley ${how}`,
      exitCode: this.#exitCode,
      signal: this.#signal,
      tailLabel: 'last stderr',
    };
  }
}
