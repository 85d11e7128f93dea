// Starting the CLI from its single-file bundle (dist/memlens.cjs, made by scripts/build-cli.mjs) with V8's
// code cache for it, rather than from the ~55 ES modules of dist/src: resolving and compiling those was about
// a fifth of `memlens run`'s fixed cost (docs/benchmarks.md, "Fixed cost"); the cache takes about 14 ms more
// off each start (docs/benchmarks.md, "The fixed cost, round four").
//
// A report (REPORT_COMMANDS) starts from the reports' bundle instead (dist/memlens-reports.cjs: the same CLI
// with the report commands alone, src/cli/report-registry.ts), when it is there: V8 keeps a bundle's whole
// source while the CLI runs, and deserializes all of its code cache at the start, so a report started from
// the whole CLI held `run`'s source and the functions `memlens run` compiled, about 0.6 MiB of its peak
// (docs/benchmarks.md, "The CLI's own code at a report's peak"). Everything below holds for either bundle:
// each has its own code cache beside it, and its own file in the user's cache directory.
//
// V8 takes a code cache only from the very node version (and V8 flags) that made it. Two places hold one:
// - beside the bundle (dist/memlens.cjs.v8cache), made at build time by the node that built the npm package;
// - when that one is missing (the wheel has none: it runs under whichever node it finds) or made by another
//   node, the user's cache directory ($XDG_CACHE_HOME/memlens, else ~/.cache/memlens), one file per
//   installation, node version and node flags, written at the end of a command that compiled without a usable cache, and read
//   by the next. The install directory may be read-only; the user's cache directory is where a user may
//   write. Any failure there (no HOME, a read-only home, a full disk) leaves the CLI compiling as usual.
// Nothing else is written, nothing in /tmp. V8 itself refuses a cache from another V8 version or other flags
// (then the bundle compiles as usual); it checks the source only by its length, so each cache file starts
// with the CRC-32 of the bundle it was made from, and is used only for that exact bundle. A CRC-32
// (zlib.crc32) rather than a SHA-256: it guards against a stale cache, not an attacker (who could replace the
// bundle itself, or anything else in the user's home), and node:crypto alone cost about 5 ms of each start
// (docs/benchmarks.md, "Fixed cost"); zlib is loaded by `memlens run` anyway.
//
// The user's cache directory is pruned when a new cache file is written there (a new installation, node
// version or node flags, which is also when an older file can become useless), never at an ordinary start:
// see pruneUserCaches.
//
// CommonJS (bin/package.json), as bin/memlens.js: an ES module as node's entry point costs node's ES module
// loader, about 6 ms of each start.

'use strict';

const { isAscii } = require('node:buffer');
const { closeSync, constants, fstatSync, futimesSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } = require('node:fs');
const { basename, dirname, join } = require('node:path');
const vm = require('node:vm');
const zlib = require('node:zlib');

const ROOT = join(__dirname, '..');
const BUNDLE = join(ROOT, 'dist', 'memlens.cjs');
const REPORTS_BUNDLE = join(ROOT, 'dist', 'memlens-reports.cjs');
const HASH_LEN = 4;
// The commands of src/cli/report-registry.ts, with their aliases (src/cli/report-registry.test.ts holds the
// two lists equal): the first argument that starts the reports' bundle. Anything else (`run`, `--help`, a
// mistyped command) starts the whole CLI.
const REPORT_COMMANDS = new Set(['verdict', 'results', 'summary', 'stats', 'tree', 'flamegraph', 'export', 'transform', 'diff', 'parse']);

/** The bundle a command line `argv` (process.argv) starts: REPORTS_BUNDLE for a report, else BUNDLE. */
function bundleFor(argv = process.argv) {
  return REPORT_COMMANDS.has(argv[2]) ? REPORTS_BUNDLE : BUNDLE;
}

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

function compile(bundle, source, cached) {
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  return new vm.Script(wrapped, { filename: bundle, ...(cached !== undefined ? { cachedData: cached } : {}) });
}

function execute(bundle, script) {
  const fn = script.runInThisContext();
  const module = { exports: {} };
  // This file's own require: the bundle requires node's builtins only (node:module's createRequire would load
  // node's ES module loader behind it, about 0.7 ms).
  fn.call(module.exports, module.exports, require, module, bundle, dirname(bundle));
}

/** The code cache in `file` made from the bundle whose sum is `sum`, or undefined. */
function cacheIn(file, sum) {
  if (file === undefined || sum === undefined) return undefined;
  try {
    const c = readFileSync(file);
    return c.length > HASH_LEN && c.subarray(0, HASH_LEN).equals(sum) ? c.subarray(HASH_LEN) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A cache file or directory of the user's that only this user could have written: theirs, and writable by
 * no one else (a code cache is code memlens runs). As src/util/private-dir.ts believes its files.
 */
function ownedPrivately(stats) {
  const uid = typeof process.geteuid === 'function' ? process.geteuid() : 0;
  return stats.uid === uid && (stats.mode & 0o022) === 0;
}

// A user cache file: the bundle's sum, then whether it was made at the end of a `memlens run` (RUN) or of
// another command (OTHER), then V8's data. What a command ran is what its cache holds compiled: a cache made
// after `memlens --help` is made again after the next run, so that runs, whose start is what counts, find
// theirs.
const RUN = 0x72;
const OTHER = 0x2d;
const USER_HEADER_LEN = HASH_LEN + 1;
const isRun = () => process.argv[2] === 'run';

/** The user cache file `file` (see ownedPrivately): { data, afterRun }, or undefined. */
function userCacheIn(file, sum) {
  if (file === undefined || sum === undefined) return undefined;
  let fd;
  try {
    // The directory itself, not a link to one (its parent may be reached through links: the user's own).
    if (!ownedPrivately(lstatSync(dirname(file)))) return undefined;
    fd = openSync(file, 'r');
    const st = fstatSync(fd);
    if (!st.isFile() || !ownedPrivately(st)) return undefined;
    const c = readFileSync(fd);
    if (c.length <= USER_HEADER_LEN || !c.subarray(0, HASH_LEN).equals(sum)) return undefined;
    markUsed(fd, st);
    return { data: c.subarray(USER_HEADER_LEN), afterRun: c[HASH_LEN] === RUN };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// Pruning. A cache file's modification time says when it was last used, to within a day: a start that uses
// one modified more than a day ago sets it to now (one futimes a day per installation; the time is in the
// fstat done anyway). Files not used for PRUNE_AFTER_DAYS days (an installation removed, a virtualenv
// recreated, node upgraded) are deleted, and beyond KEEP_FILES the least recently used ones (a CI job that
// makes a new virtualenv each time, on a home that persists), when a new cache file is written: each such
// file replaces an older one, and a start that writes nothing lists nothing.
const DAY_MS = 24 * 60 * 60 * 1000;
const PRUNE_AFTER_DAYS = 30;
const KEEP_FILES = 16;
const CACHE_NAME = /^cli-.+\.v8cache$/;
// What a writer killed between writing and renaming leaves (this file's writeCache, python/memlens/_node.py).
const TEMPORARY_NAME = /^(cli-.+\.v8cache|node-versions)\.\d+\.tmp$/;

/** Marks the cache file open at `fd` (its stats `st`) as used now, at most once a day; errors are ignored. */
function markUsed(fd, st) {
  const now = Date.now();
  if (now - st.mtimeMs < DAY_MS) return;
  try {
    futimesSync(fd, st.atime, new Date(now));
  } catch {
    // A read-only file system: the file may be pruned after PRUNE_AFTER_DAYS, and written again.
  }
}

/**
 * Deletes the cache files of `dir` not used for PRUNE_AFTER_DAYS days, then the least recently used beyond
 * KEEP_FILES, and temporaries older than a day; never `kept` (the file just written). Only regular files of
 * this user whose names memlens gives, found and deleted through the directory opened once without
 * following a link (/proc/self/fd/N/NAME, as src/util/safe-fs.ts does): a link is not followed, nothing
 * outside the directory is reached, and other files there (node-versions, src/util/private-dir.ts's) are
 * left alone. Errors end the pruning quietly: the next write tries again.
 */
function pruneUserCaches(dir, kept) {
  const now = Date.now();
  let fd;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    if (!ownedPrivately(fstatSync(fd))) return;
    const at = `/proc/self/fd/${fd}`;
    const uid = typeof process.geteuid === 'function' ? process.geteuid() : 0;
    const live = [];
    for (const name of readdirSync(at)) {
      const cache = CACHE_NAME.test(name);
      if (name === kept || !(cache || TEMPORARY_NAME.test(name))) continue;
      const st = lstatSync(join(at, name), { throwIfNoEntry: false });
      if (st === undefined || !st.isFile() || st.uid !== uid) continue;
      const age = now - st.mtimeMs;
      if (age > (cache ? PRUNE_AFTER_DAYS : 1) * DAY_MS) removeQuietly(join(at, name));
      else if (cache) live.push({ name, mtimeMs: st.mtimeMs });
    }
    // KEEP_FILES with `kept`: the most recently used others first.
    live.sort((a, b) => b.mtimeMs - a.mtimeMs);
    for (const { name } of live.slice(KEEP_FILES - 1)) removeQuietly(join(at, name));
  } catch {
    // No /proc, the directory gone or replaced: nothing pruned this time.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function removeQuietly(path) {
  try {
    unlinkSync(path);
  } catch {
    // Gone already (another memlens pruned it).
  }
}

/**
 * This node's code cache file for `bundle` in the user's cache directory, or undefined when there is none to
 * use. Named by node's version and flags (V8 refuses a cache made under other ones: the wheel may run under a
 * node on PATH or under the packaged one, and `node bin/memlens.js` runs once without memlens's flags), and
 * by where the bundle is: the npm package and the wheel, two virtualenvs, or the two bundles of one
 * installation do not take turns replacing one file.
 */
function userCacheFile(env = process.env, bundle = BUNDLE) {
  const xdg = env.XDG_CACHE_HOME;
  const home = env.HOME;
  const dir = xdg !== undefined && xdg.startsWith('/') ? xdg : home !== undefined && home.startsWith('/') ? join(home, '.cache') : undefined;
  if (dir === undefined || typeof zlib.crc32 !== 'function') return undefined;
  const key = zlib.crc32([bundle, ...process.execArgv].join('\0')).toString(16).padStart(8, '0');
  return join(dir, 'memlens', `cli-${process.version}-${process.arch}-${key}.v8cache`);
}

/** Writes the code cache `data` to `file` whole or not at all (renamed into place); errors are ignored. */
function writeCache(file, sum, data) {
  const dir = dirname(file);
  const tmp = `${file}.${process.pid}.tmp`;
  let made = false;
  try {
    // ~/.cache and its memlens directory when they are missing, never a home directory.
    for (const d of [dirname(dir), dir]) {
      try {
        mkdirSync(d, { mode: 0o700 });
      } catch (e) {
        if (e.code !== 'EEXIST') throw e;
      }
    }
    if (!ownedPrivately(lstatSync(dir))) return;
    // 'wx': a file of that name (a link someone left) is not followed, nor overwritten.
    const kind = Buffer.of(isRun() ? RUN : OTHER);
    writeFileSync(tmp, Buffer.concat([sum, kind, data]), { mode: 0o600, flag: 'wx' });
    made = true;
    renameSync(tmp, file);
    made = false;
    pruneUserCaches(dir, basename(file));
  } catch {
    if (made) {
      try {
        unlinkSync(tmp);
      } catch {
        // Gone already.
      }
    }
  }
}

/** The bytes of the first of `bundles` that can be read, and its path; undefined when none can. */
function readBundle(bundles) {
  for (const bundle of bundles) {
    try {
      return { bundle, bytes: readFileSync(bundle) };
    } catch {
      // The next: a build from before the reports' bundle, or only `tsc` was run.
    }
  }
  return undefined;
}

/**
 * Runs the CLI from its bundle (bundleFor; the whole CLI when the reports' is missing); false when there is
 * no bundle (only `tsc` was run): use dist/src then.
 */
function runBundle() {
  const found = readBundle([...new Set([bundleFor(), BUNDLE])]);
  if (found === undefined) return false;
  const { bundle, bytes } = found;
  const sum = sumOf(bytes);
  // The user's cache first: it exists only when the one beside the bundle was missing or refused before.
  const userFile = userCacheFile(process.env, bundle);
  const fromUser = userCacheIn(userFile, sum);
  const cached = fromUser?.data ?? cacheIn(`${bundle}.v8cache`, sum);
  const script = compile(bundle, textOf(bytes), cached);
  const stale = fromUser !== undefined && !fromUser.afterRun && isRun();
  const write = userFile !== undefined && (cached === undefined || script.cachedDataRejected === true || stale);
  let started;
  if (write) {
    // A run's at its end, when what it ran is compiled (the next run finds it all).
    process.once('exit', () => writeCache(userFile, sum, started ?? script.createCachedData()));
  }
  execute(bundle, script);
  // Any other command's as it stands once the CLI has started (as the cache beside the bundle is made): a
  // report compiles most of the bundle by its end, and the next start deserializes all of a cache, so a
  // cache made at a report's end cost every later report about 2 MiB of peak RSS (docs/benchmarks.md,
  // "Report memory, round seven"). Before any V8 flag is set at run time (src/util/report-flags.ts: those
  // are set once the capture's size is known, after the first await).
  if (write && !isRun()) started = script.createCachedData();
  return true;
}

/**
 * For scripts/build-cli.mjs: runs `bundle` (the caller set argv to a command that ends at once), then
 * writes the code cache of what it compiled beside it.
 */
function makeCodeCache(bundle = BUNDLE) {
  const bytes = readFileSync(bundle);
  const sum = sumOf(bytes);
  const script = compile(bundle, textOf(bytes), undefined);
  execute(bundle, script);
  process.once('beforeExit', () => {
    if (sum !== undefined) writeFileSync(`${bundle}.v8cache`, Buffer.concat([sum, script.createCachedData()]));
  });
}

module.exports = { BUNDLE, REPORTS_BUNDLE, REPORT_COMMANDS, bundleFor, runBundle, makeCodeCache, userCacheFile, PRUNE_AFTER_DAYS, KEEP_FILES };
