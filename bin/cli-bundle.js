// Starting the CLI from its single-file bundle (dist/memlens.cjs, made by scripts/build-cli.mjs) with V8's
// code cache for it (dist/memlens.cjs.v8cache), rather than from the ~55 ES modules of dist/src: resolving
// and compiling those was about a fifth of `memlens run`'s fixed cost (docs/benchmarks.md, "Fixed cost").
//
// The cache is made at build time and only read here, never written: nothing in the user's home or in /tmp.
// V8 itself refuses a cache from another V8 version or other flags (then the bundle compiles as usual); it
// checks the source only by its length, so the cache file starts with the CRC-32 of the bundle it was made
// from, and is used only for that exact bundle. A CRC-32 (zlib.crc32) rather than a SHA-256: it guards
// against a stale cache, not an attacker (who could replace the bundle itself), and node:crypto alone cost
// about 5 ms of each start (docs/benchmarks.md, "Fixed cost"); zlib is loaded by `memlens run` anyway.
//
// CommonJS (bin/package.json), as bin/memlens.js: an ES module as node's entry point costs node's ES module
// loader, about 6 ms of each start.

'use strict';

const { isAscii } = require('node:buffer');
const { readFileSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const vm = require('node:vm');
const zlib = require('node:zlib');

const ROOT = join(__dirname, '..');
const BUNDLE = join(ROOT, 'dist', 'memlens.cjs');
const CODE_CACHE = `${BUNDLE}.v8cache`;
const HASH_LEN = 4;

/** The sum that ties a cache to its bundle, or undefined when this Node has no zlib.crc32. */
function sumOf(bytes) {
  if (typeof zlib.crc32 !== 'function') return undefined;
  const sum = Buffer.alloc(HASH_LEN);
  sum.writeUInt32BE(zlib.crc32(bytes));
  return sum;
}

/**
 * The bundle's text. It is all ASCII (scripts/build-cli.mjs: esbuild escapes the rest, and drops comments),
 * which decodes as Latin-1 at about half the cost of UTF-8, into the same string; UTF-8 otherwise.
 */
function textOf(bytes) {
  return typeof isAscii === 'function' && isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}

function compile(source, cached) {
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  return new vm.Script(wrapped, { filename: BUNDLE, ...(cached !== undefined ? { cachedData: cached } : {}) });
}

function execute(script) {
  const fn = script.runInThisContext();
  const module = { exports: {} };
  // This file's own require: the bundle requires node's builtins only (node:module's createRequire would load
  // node's ES module loader behind it, about 0.7 ms).
  fn.call(module.exports, module.exports, require, module, BUNDLE, dirname(BUNDLE));
}

/** Runs the CLI from the bundle; false when there is no bundle (only `tsc` was run): use dist/src then. */
function runBundle() {
  let bytes;
  try {
    bytes = readFileSync(BUNDLE);
  } catch {
    return false;
  }
  let cached;
  try {
    const sum = sumOf(bytes);
    const c = sum !== undefined ? readFileSync(CODE_CACHE) : undefined;
    if (c !== undefined && c.length > HASH_LEN && c.subarray(0, HASH_LEN).equals(sum)) cached = c.subarray(HASH_LEN);
  } catch {
    // No cache: compile as usual.
  }
  execute(compile(textOf(bytes), cached));
  return true;
}

/**
 * For scripts/build-cli.mjs: runs the bundle (the caller set argv to a command that ends at once), then
 * writes the code cache of what it compiled.
 */
function makeCodeCache() {
  const bytes = readFileSync(BUNDLE);
  const script = compile(textOf(bytes), undefined);
  execute(script);
  process.once('beforeExit', () => {
    const sum = sumOf(bytes);
    if (sum !== undefined) writeFileSync(CODE_CACHE, Buffer.concat([sum, script.createCachedData()]));
  });
}

module.exports = { BUNDLE, CODE_CACHE, runBundle, makeCodeCache };
