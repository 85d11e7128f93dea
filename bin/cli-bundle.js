// Starting the CLI from its single-file bundle (dist/memlens.cjs, made by scripts/build-cli.mjs) with V8's
// code cache for it (dist/memlens.cjs.v8cache), rather than from the ~55 ES modules of dist/src: resolving
// and compiling those was about a fifth of `memlens run`'s fixed cost (docs/benchmarks.md, "Fixed cost").
//
// The cache is made at build time and only read here, never written: nothing in the user's home or in /tmp.
// V8 itself refuses a cache from another V8 version or other flags (then the bundle compiles as usual); it
// checks the source only by its length, so the cache file starts with the SHA-256 of the bundle it was made
// from, and is used only for that exact bundle.

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = join(ROOT, 'dist', 'memlens.cjs');
export const CODE_CACHE = `${BUNDLE}.v8cache`;
const HASH_LEN = 32;

function compile(source, cached) {
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  return new vm.Script(wrapped, { filename: BUNDLE, ...(cached !== undefined ? { cachedData: cached } : {}) });
}

function execute(script) {
  const fn = script.runInThisContext();
  const module = { exports: {} };
  fn.call(module.exports, module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
}

/** Runs the CLI from the bundle; false when there is no bundle (only `tsc` was run): use dist/src then. */
export function runBundle() {
  let bytes;
  try {
    bytes = readFileSync(BUNDLE);
  } catch {
    return false;
  }
  let cached;
  try {
    const c = readFileSync(CODE_CACHE);
    if (c.length > HASH_LEN && c.subarray(0, HASH_LEN).equals(createHash('sha256').update(bytes).digest())) cached = c.subarray(HASH_LEN);
  } catch {
    // No cache: compile as usual.
  }
  execute(compile(bytes.toString('utf8'), cached));
  return true;
}

/**
 * For scripts/build-cli.mjs: runs the bundle (the caller set argv to a command that ends at once), then
 * writes the code cache of what it compiled.
 */
export function makeCodeCache() {
  const bytes = readFileSync(BUNDLE);
  const script = compile(bytes.toString('utf8'), undefined);
  execute(script);
  process.once('beforeExit', () => {
    writeFileSync(CODE_CACHE, Buffer.concat([createHash('sha256').update(bytes).digest(), script.createCachedData()]));
  });
}
