// Shared by the tests: which binary to run, and small builders.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Volley, chat } from '../src/index.js';

export const clientDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = resolve(clientDir, '..', '..');

/** VOLLEY_BIN, else the checkout's debug build (never a `volley` that happens to be on PATH). */
export const binary = (() => {
  if (process.env.VOLLEY_BIN) return process.env.VOLLEY_BIN;
  const debug = join(repoRoot, '.build', 'debug', 'volley');
  if (existsSync(debug)) return debug;
  throw new Error(`no volley binary: set VOLLEY_BIN or run \`swift build --product volley\` in ${repoRoot}`);
})();

/** A Volley on the built-in mock provider, with no API keys in its environment. */
export function mockVolley(options = {}) {
  return new Volley({ binary, env: { OPENAI_API_KEY: undefined, ANTHROPIC_API_KEY: undefined }, ...options });
}

/**
 * An item for the mock provider.
 * @param {string} prompt
 * @param {Record<string, unknown>} [mock] the mock script (latency_ms, reply, fail, ...)
 * @param {Record<string, unknown>} [options] more chat() options
 */
export function mockItem(prompt, mock = {}, options = {}) {
  return chat(prompt, { provider: 'mock', model: 'm', mock: { latency_ms: 10, ...mock }, ...options });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `pid` is a live process (an exited one no one has reaped yet counts as gone). */
export function isRunning(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}
