// Types for importing this file by path (`import { Volley } from '.../clients/node/src/index.js'`):
// TypeScript looks for a .d.ts next to the .js it resolves. The definitions are ../index.d.ts,
// which the package's `types` condition names for `import ... from 'volley'`.
export * from '../index.js';
