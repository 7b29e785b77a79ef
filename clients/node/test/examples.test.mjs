// Every example runs offline (no API key in its environment) and passes its own checks.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { binary, clientDir } from './helpers.mjs';

const run = promisify(execFile);
const examplesDir = join(clientDir, 'examples');
const examples = readdirSync(examplesDir).filter((name) => name.endsWith('.mjs')).sort();

test('there is an example for each of the article\'s', () => {
  assert.ok(examples.length >= 8, examples.join(', '));
});

for (const name of examples) {
  test(`example ${name}`, async () => {
    const env = { ...process.env, VOLLEY_BIN: binary };
    delete env.OPENAI_API_KEY;
    delete env.ANTHROPIC_API_KEY;
    try {
      const { stdout } = await run(process.execPath, [join(examplesDir, name)], { env, cwd: clientDir, timeout: 60_000 });
      assert.ok(stdout.length > 0, 'it prints what it did');
    } catch (error) {
      assert.fail(`${name} failed (exit ${error.code}):\n${error.stdout}\n${error.stderr}`);
    }
  });
}
