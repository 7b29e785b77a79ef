// The shared-mode transport: a connection to a `volley serve --socket PATH` daemon that any
// number of hosts share, and attaching to it, or starting it when none is running.
//
// One daemon per socket is the daemon's own business: it holds an exclusive lock on
// `PATH.lock` for its life, and a second one for the same path exits with code 3 at once. So
// every host that finds no daemon simply starts one and connects to whichever won.

import { spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { SidecarCrashed } from './errors.js';

/** The daemon a client starts exits once it has had no connection for this long (seconds). */
const IDLE_EXIT_SECONDS = 300;
/** What a daemon exits with when another one already serves its socket: not a failure. */
const ANOTHER_DAEMON_EXIT_CODE = 3;
const CONNECT_RETRY_MS = 20;
const START_TIMEOUT_MS = 10_000;
const LOG_TAIL_LINES = 20;
/**
 * Connect errors that mean "no daemon listening": no socket file (yet), a stale one, a daemon
 * that closed its socket while the connection waited to be accepted, a full backlog.
 */
const NOT_LISTENING = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EAGAIN']);
/** How long after a started daemon exited 3 a socket nobody listens on makes us start another. */
const RESPAWN_AFTER_MS = 200;
/** sun_path holds 108 bytes on Linux (104 on macOS and the BSDs), the terminating NUL included. */
const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

/**
 * The socket a shared daemon serves when no path is given, as `volley serve --shared` computes
 * it: `$VOLLEY_SOCKET` when set and non-empty; else `$XDG_RUNTIME_DIR/volley/volley.sock` when
 * XDG_RUNTIME_DIR is set and non-empty; else `/tmp/volley-<effective uid>/volley.sock`.
 * @param {Record<string, string | undefined>} [env]
 */
export function defaultSocketPath(env = process.env) {
  if (env.VOLLEY_SOCKET) return env.VOLLEY_SOCKET;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'volley', 'volley.sock');
  return join('/tmp', `volley-${process.geteuid?.() ?? 0}`, 'volley.sock');
}

/**
 * Throws a `TypeError` when `path` cannot be a Unix socket's address.
 * @param {string} path
 */
export function checkSocketPath(path) {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new TypeError(`socket path ${path} is ${bytes} bytes; a Unix socket's path holds at most ${MAX_SOCKET_PATH_BYTES}: choose a shorter one`);
  }
  if (path.endsWith('/')) throw new TypeError(`socket path ${path} names a directory, not a socket`);
}

/** The log a started daemon's stderr is appended to. @param {string} socketPath */
export function daemonLogPath(socketPath) {
  return join(dirname(socketPath), 'volley.log');
}

/**
 * Start-ups of a daemon under way in this process, by socket path: a second Volley finding no
 * daemon waits for the first one's instead of spawning its own.
 * @type {Map<string, Promise<unknown>>}
 */
const startsUnderWay = new Map();

/**
 * Connects to the daemon at `path`, starting one first when none is listening: the socket's
 * directory is created (mode 0700), `<binary> serve --socket PATH --idle-exit 300 <flags>` is
 * started fully detached (its own session, stdin and stdout on /dev/null, stderr appended to
 * `volley.log` next to the socket; it outlives this process), and the connection is retried
 * every 20 ms for up to 10 s. That process exiting with code 3 is normal: another host's daemon
 * won, and this one connects to it. Rejects with `SidecarCrashed` (with the log's last lines)
 * when no daemon could be reached.
 *
 * @param {{path: string, binary: () => string, flags: string[], env: NodeJS.ProcessEnv}} options
 *   `binary` is called only when a daemon must be started
 * @returns {Promise<SocketTransport>}
 */
export async function attachOrStart(options) {
  const { path } = options;
  for (;;) {
    const socket = await connectIfListening(path);
    if (socket) return new SocketTransport(socket, path);
    const underWay = startsUnderWay.get(path);
    if (!underWay) break;
    // Another Volley of this process is starting the daemon: connect once it is up (or, if
    // that failed, try to start one here).
    await underWay.catch(() => {});
  }
  const start = startDaemon(options);
  startsUnderWay.set(path, start);
  try {
    return new SocketTransport(await start, path);
  } finally {
    startsUnderWay.delete(path);
  }
}

/**
 * Starts a daemon and resolves with a connection to it (or to the one that won the race).
 * @param {{path: string, binary: () => string, flags: string[], env: NodeJS.ProcessEnv}} options
 * @returns {Promise<import('node:net').Socket>}
 */
async function startDaemon({ path, binary, flags, env }) {
  const dir = dirname(path);
  ensurePrivateDirectory(dir);
  const executable = binary();
  const log = daemonLogPath(path);
  const args = ['serve', '--socket', path, '--idle-exit', String(IDLE_EXIT_SECONDS), ...flags];
  // Never through a link planted in its place.
  const logFd = openSync(log, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  const logStart = fstatSync(logFd).size;

  /**
   * @typedef {object} Started
   * @property {{code: number | null, signal: string | null} | undefined} exited
   * @property {number} exitedAt
   * @property {Error | undefined} spawnError
   */
  /** @returns {Started} */
  const spawnOne = () => {
    /** @type {Started} */
    const started = { exited: undefined, exitedAt: 0, spawnError: undefined };
    const child = spawn(executable, args, { env, detached: true, stdio: ['ignore', 'ignore', logFd] });
    child.unref();
    child.once('exit', (code, signal) => {
      started.exited = { code, signal };
      started.exitedAt = Date.now();
    });
    child.once('error', (error) => (started.spawnError = error));
    return started;
  };

  /** @type {Started} */
  let daemon = { exited: undefined, exitedAt: 0, spawnError: undefined };
  /** @param {string} why @param {Error} [cause] */
  const startFailed = (why, cause) => {
    const tail = logTail(log, logStart);
    const shown = tail.length ? `; last lines of ${log}:\n  ${tail.join('\n  ')}` : ` (nothing new in ${log})`;
    return new SidecarCrashed(`could not start the volley daemon for ${path}: ${why}${shown}`, {
      exitCode: daemon.exited?.code ?? null,
      signal: daemon.exited?.signal ?? null,
      stderr: tail,
      cause,
    });
  };

  try {
    daemon = spawnOne();
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      await delay(CONNECT_RETRY_MS);
      const socket = await connectIfListening(path);
      if (socket) return socket;
      if (daemon.spawnError) throw startFailed(`could not run ${executable}: ${daemon.spawnError.message}`, daemon.spawnError);
      const exited = daemon.exited;
      if (exited && exited.code !== ANOTHER_DAEMON_EXIT_CODE) {
        const how = exited.signal !== null ? `killed by ${exited.signal}` : `exited with code ${exited.code}`;
        throw startFailed(`\`${[executable, ...args].join(' ')}\` ${how}`);
      }
      if (Date.now() >= deadline) {
        const state = exited ? 'it exited with code 3 (another daemon serves this socket) but no daemon' : 'it';
        throw startFailed(`${state} did not accept a connection within ${START_TIMEOUT_MS / 1000} s`);
      }
      // Another daemon held the lock, yet nothing listens a while later: that one was on its
      // way out (killed, or exiting idle). Start another; the lock still arbitrates.
      if (exited && Date.now() - daemon.exitedAt >= RESPAWN_AFTER_MS) daemon = spawnOne();
    }
  } finally {
    closeSync(logFd);
  }
}

/**
 * Resolves with a connected socket, or `undefined` when no daemon listens at `path` (no socket
 * file, a stale one, or a daemon closing its socket as we connected).
 * @param {string} path
 * @returns {Promise<import('node:net').Socket | undefined>}
 */
async function connectIfListening(path) {
  try {
    return await connectTo(path);
  } catch (error) {
    if (NOT_LISTENING.has(/** @type {any} */ (error).code)) return undefined;
    throw connectFailed(path, /** @type {Error} */ (error));
  }
}

/**
 * Creates the socket's directory (mode 0700) when missing, and refuses one that another user
 * owns or that group or others can use, as the daemon does: the socket, its lock and the log
 * live there.
 * @param {string} dir
 */
function ensurePrivateDirectory(dir) {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new SidecarCrashed(`could not create ${dir} for the volley daemon's socket: ${/** @type {Error} */ (error).message}`, { cause: error });
  }
  // lstat: a symbolic link is refused, as the daemon refuses it.
  const info = lstatSync(dir);
  const uid = process.geteuid?.();
  let problem;
  if (!info.isDirectory()) problem = 'is not a directory';
  else if (uid !== undefined && info.uid !== uid) problem = `belongs to uid ${info.uid}, not to this process's uid ${uid}`;
  else if (info.mode & 0o077) problem = `is open to group or others (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')})`;
  if (problem) {
    throw new SidecarCrashed(
      `not starting a volley daemon: the socket's directory ${dir} ${problem}; the daemon refuses it too. ` +
        'Use a socket in a directory only you can use (chmod 700), or the default path.',
    );
  }
}

/**
 * The last lines written to `log` since byte `from` (other hosts' daemons may have written
 * some of them too).
 * @param {string} log
 * @param {number} from
 */
function logTail(log, from) {
  try {
    let text = readFileSync(log);
    text = text.subarray(Math.min(from, text.length));
    return text.toString('utf8').split('\n').filter((line) => line.trim() !== '').slice(-LOG_TAIL_LINES);
  } catch {
    return [];
  }
}

/** @param {string} path @param {Error} error */
function connectFailed(path, error) {
  return new SidecarCrashed(`could not connect to the volley daemon at ${path}: ${error.message}`, { cause: error });
}

/** @param {number} ms */
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves with a connected socket, or rejects with the connect error (`code` ENOENT when no
 * socket file is there, ECONNREFUSED when no one listens on it).
 * @param {string} path
 * @returns {Promise<import('node:net').Socket>}
 */
function connectTo(path) {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    const onError = (/** @type {Error} */ error) => {
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** @implements {import('./rpc.js').Transport} */
export class SocketTransport {
  /** @type {import('node:net').Socket} */
  #socket;
  #path;
  /**
   * The daemon's process id: not known from the socket itself; `Volley` sets it from what
   * `initialize` answered.
   * @type {number | undefined}
   */
  pid;

  /**
   * @param {import('node:net').Socket} socket connected
   * @param {string} path
   */
  constructor(socket, path) {
    this.#socket = socket;
    this.#path = path;
  }

  get path() {
    return this.#path;
  }

  /** @param {import('./rpc.js').TransportHandlers} handlers */
  attach({ data, eof, log, end }) {
    const socket = this.#socket;
    socket.on('data', data);
    socket.on('end', eof);
    // ECONNRESET, EPIPE: 'close' follows and reports the end.
    socket.on('error', (error) => {
      log(`[volley-node] connection to ${this.#path}: ${error.message}`);
    });
    socket.on('close', () => end());
  }

  /** @param {string} line */
  write(line) {
    if (!this.#socket.destroyed) this.#socket.write(line);
  }

  endInput() {
    this.#socket.end();
  }

  abort() {
    this.#socket.destroy();
  }

  /** @param {boolean} on */
  setRef(on) {
    if (on) this.#socket.ref();
    else this.#socket.unref();
  }

  /**
   * @param {number} pending
   * @returns {import('./rpc.js').EndReport}
   */
  describeEnd(pending) {
    // Whether the daemon is still alive is not known yet: a killed process closes its sockets
    // before it is gone.
    const daemon = `the volley daemon${this.pid !== undefined ? ` (pid ${this.pid})` : ''} at ${this.#path}`;
    return {
      headline: pending ? `lost the connection to volley with ${pending} request(s) pending` : 'lost the connection to volley',
      detail: `${daemon} closed the connection (a daemon a client started logs to ${daemonLogPath(this.#path)})`,
      exitCode: null,
      signal: null,
      tailLabel: 'last messages',
    };
  }
}
