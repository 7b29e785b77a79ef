// Finding the `volley` executable.

import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** @param {string} path */
function isExecutableFile(path) {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The nearest directory at or above `start` that holds a `Package.swift`.
 * @param {string} start
 * @returns {string | undefined}
 */
function swiftPackageRoot(start) {
  let dir = resolve(start);
  for (;;) {
    try {
      if (statSync(join(dir, 'Package.swift')).isFile()) return dir;
    } catch {
      // keep climbing
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * The binary installed with this library: `bin/volley` in the package, which the tarball
 * scripts/package makes carries (a checkout's clients/node has none).
 */
const BUNDLED_BINARY = fileURLToPath(new URL('../bin/volley', import.meta.url));

/**
 * Where the sidecar binary is, in this order: `explicit` (the `binary` option); the package's
 * own `bin/volley`; `VOLLEY_BIN`; `volley` on `PATH`; the checkout's `.build/release/volley`,
 * then `.build/debug/volley`, in the nearest directory holding `Package.swift` above this
 * library (then above the working directory).
 *
 * @param {string | undefined} explicit
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {string}
 * @throws {Error} when none is found; the message lists every place searched.
 */
export function findBinary(explicit, env = process.env) {
  if (explicit) return explicit;
  if (isExecutableFile(BUNDLED_BINARY)) return BUNDLED_BINARY;
  if (env.VOLLEY_BIN) return env.VOLLEY_BIN;
  const searched = [];
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'volley');
    if (isExecutableFile(candidate)) return candidate;
  }
  searched.push('volley on PATH');
  const here = dirname(fileURLToPath(import.meta.url));
  const roots = [swiftPackageRoot(here), swiftPackageRoot(process.cwd())];
  for (const root of new Set(roots)) {
    if (!root) continue;
    for (const config of ['release', 'debug']) {
      const candidate = join(root, '.build', config, 'volley');
      if (isExecutableFile(candidate)) return candidate;
      searched.push(candidate);
    }
  }
  throw new Error(
    `volley binary not found (searched: the binary option, ${BUNDLED_BINARY}, VOLLEY_BIN, ${searched.join(', ')}). ` +
      'Install the package that carries its binary (scripts/package makes it), build it with ' +
      '`swift build --product volley` in the Volley checkout, or set VOLLEY_BIN.',
  );
}
