// The CLI bundle's V8 code cache (bin/cli-bundle.js): beside the bundle when the node that built the package
// made it, else in the user's cache directory, written at the end of a command that compiled without one
// and used by the next; never believed when another user could have written it, and never in the way: a
// cache directory memlens cannot write leaves the CLI as it was. The directory is pruned when a new cache
// file is written there, within it only (docs/security.md, "What the cache directory keeps"). Needs
// `npm run build` first.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, cpSync, lutimesSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../src/util/node-flags.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'memlens-code-cache-'));
after(() => rmSync(work, { recursive: true, force: true }));

const BUNDLES = ['memlens.cjs', 'memlens-reports.cjs'];

/** A copy of the package's CLI: bin/ and the bundles, with the build's code caches beside them or not. */
function install(name: string, withShippedCache: boolean, bundles: readonly string[] = BUNDLES): string {
  const dir = join(work, name);
  cpSync(join(root, 'bin'), join(dir, 'bin'), { recursive: true });
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  mkdirSync(join(dir, 'dist'));
  for (const bundle of bundles) {
    copyFileSync(join(root, 'dist', bundle), join(dir, 'dist', bundle));
    if (withShippedCache) copyFileSync(join(root, 'dist', `${bundle}.v8cache`), join(dir, 'dist', `${bundle}.v8cache`));
  }
  symlinkSync(join(root, 'agent'), join(dir, 'agent'));
  return dir;
}

function memlens(dir: string, cacheHome: string, args: readonly string[]): string {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cacheHome };
  const r = spawnSync(process.execPath, [...NODE_FLAGS, join(dir, 'bin', 'memlens.js'), ...args], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  return r.stdout;
}

const version = (dir: string, cacheHome: string): string => memlens(dir, cacheHome, ['--version']);

const cacheFiles = (cacheHome: string): string[] => {
  try {
    return readdirSync(join(cacheHome, 'memlens')).filter((f) => f.endsWith('.v8cache'));
  } catch {
    return [];
  }
};

/** The path of the one cache file in `cacheHome` (a failed assertion when there is none, or more). */
function theCacheFile(cacheHome: string): string {
  const [file, ...others] = cacheFiles(cacheHome);
  assert.ok(file !== undefined && others.length === 0, String(cacheFiles(cacheHome)));
  return join(cacheHome, 'memlens', file);
}

test('without a cache beside the bundle, the first run writes one in the user cache directory, privately, and the next uses it as it is', () => {
  const dir = install('no-shipped-cache', false);
  const home = join(work, 'xdg-1');
  const expected = version(install('reference', true), join(work, 'xdg-reference'));
  assert.equal(version(dir, home), expected);
  const path = theCacheFile(home);
  const first = statSync(path);
  assert.equal(first.mode & 0o777, 0o600);
  assert.equal(statSync(join(home, 'memlens')).mode & 0o777, 0o700);
  // Used, not refused: a refused or unread cache is written again at the end (a new file renamed into place).
  assert.equal(version(dir, home), expected);
  const second = statSync(path);
  assert.deepEqual([second.ino, second.mtimeMs], [first.ino, first.mtimeMs]);
  assert.equal(theCacheFile(home), path);
});

test('a cache file that another user could have written is not used: it is replaced by a private one', () => {
  const dir = install('writable-cache', false);
  const home = join(work, 'xdg-2');
  version(dir, home);
  const path = theCacheFile(home);
  chmodSync(path, 0o620);
  const before = statSync(path);
  version(dir, home);
  const afterRun = statSync(path);
  assert.notEqual(afterRun.ino, before.ino);
  assert.equal(afterRun.mode & 0o777, 0o600);
});

test('a cache file made from another bundle is not used, and the one beside the bundle makes the user cache unneeded', () => {
  const dir = install('stale-cache', false);
  const home = join(work, 'xdg-3');
  version(dir, home);
  const path = theCacheFile(home);
  // Another bundle's sum in front of valid cache data: refused, and written again.
  writeFileSync(path, Buffer.alloc(64, 7), { mode: 0o600 });
  const before = statSync(path);
  version(dir, home);
  assert.notEqual(statSync(path).ino, before.ino);
  assert.ok(statSync(path).size > 1000);
  // With the build's cache beside the bundle (the npm package built by this node), nothing is written.
  const shipped = join(work, 'xdg-4');
  version(install('shipped-cache', true), shipped);
  assert.deepEqual(cacheFiles(shipped), []);
});

test('a cache directory that cannot be made leaves the CLI as it was', () => {
  const dir = install('unwritable', false);
  const notADir = join(work, 'a-file');
  writeFileSync(notADir, '');
  const expected = version(install('reference-2', true), join(work, 'xdg-reference-2'));
  assert.equal(version(dir, join(notADir, 'cache')), expected);
  // A relative XDG_CACHE_HOME is not used (the XDG rule), and HOME's .cache is then the place: here none.
  const r = spawnSync(process.execPath, [...NODE_FLAGS, join(dir, 'bin', 'memlens.js'), '--version'], {
    encoding: 'utf8',
    env: { ...process.env, XDG_CACHE_HOME: 'relative', HOME: join(notADir, 'home') },
  });
  assert.deepEqual([r.status, r.stdout, r.stderr], [0, expected, '']);
});

test('a cache made after another command is made again after the next memlens run, which then keeps it', () => {
  const dir = install('after-run', false);
  const home = join(work, 'xdg-5');
  version(dir, home);
  const path = theCacheFile(home);
  // The bundle's CRC-32, then what made it: '-' another command, 'r' a run.
  assert.equal(String.fromCharCode(readFileSync(path)[4]!), '-');
  const before = statSync(path);
  const script = join(work, 'empty.py');
  writeFileSync(script, 'pass\n');
  const run = ['run', '-q', '-f', '-o', join(work, 'empty.mlens'), '--python', '/usr/bin/python3', script];
  memlens(dir, home, run);
  const afterRun = statSync(path);
  assert.notEqual(afterRun.ino, before.ino);
  assert.equal(String.fromCharCode(readFileSync(path)[4]!), 'r');
  memlens(dir, home, run);
  version(dir, home);
  assert.equal(statSync(path).ino, afterRun.ino);
});

test('two installations sharing a cache directory keep one cache each, rather than replacing each other', () => {
  const home = join(work, 'xdg-6');
  const [a, b] = [install('one', false), install('two', false)];
  version(a, home);
  version(b, home);
  assert.equal(cacheFiles(home).length, 2);
  const inodes = (): number[] => cacheFiles(home).map((f) => statSync(join(home, 'memlens', f)).ino);
  const before = inodes();
  version(a, home);
  version(b, home);
  assert.deepEqual(inodes(), before);
});

test('a report started without a cache writes one that the next start takes: its V8 flags are set back first', () => {
  for (const bundles of [BUNDLES, ['memlens.cjs']]) {
    const dir = install(`report-${bundles.length}`, false, bundles);
    const home = join(work, `xdg-7-${bundles.length}`);
    const capture = join(root, 'test', 'fixtures', 'captures', 'known-program.mlens');
    const first = memlens(dir, home, ['stats', capture]);
    const path = theCacheFile(home);
    const made = statSync(path);
    // Refused, it would be written again at the end of each (a new file renamed into place).
    assert.equal(memlens(dir, home, ['stats', capture]), first);
    // --version starts the whole CLI: from the reports' bundle's own cache file, or from the same one when
    // there is only the whole CLI (a build from before the reports' bundle).
    version(dir, home);
    const after = statSync(path);
    assert.deepEqual([after.ino, after.mtimeMs], [made.ino, made.mtimeMs]);
    assert.equal(cacheFiles(home).length, bundles.length);
  }
});

test("a report starts from the reports' bundle, anything else from the whole CLI, each with its own cache", () => {
  // Each bundle in turn replaced by a stand-in that says which it is: what a command prints tells which
  // bundle it started.
  const capture = join(root, 'test', 'fixtures', 'captures', 'known-program.mlens');
  const reference = install('which-reference', true);
  const stats = memlens(reference, join(work, 'xdg-which-reference'), ['stats', capture]);
  const versionLine = version(reference, join(work, 'xdg-which-reference'));
  for (const [stood, starts, other] of [
    ['memlens.cjs', ['--version'], ['stats', capture]],
    ['memlens-reports.cjs', ['stats', capture], ['--version']],
  ] as const) {
    const dir = install(`which-${stood}`, true);
    writeFileSync(join(dir, 'dist', stood), `process.stdout.write('stand-in for ' + require('node:path').basename(__filename) + '\\n');\n`);
    const home = join(work, `xdg-which-${stood}`);
    assert.equal(memlens(dir, home, starts), `stand-in for ${stood}\n`);
    assert.equal(memlens(dir, home, other), other[0] === 'stats' ? stats : versionLine);
    // The stand-in's cache beside it was refused (another bundle's sum): one made in the user's cache
    // directory, for that bundle alone.
    assert.equal(cacheFiles(home).length, 1);
  }
});

test("a report's cache holds what its start compiled, not the whole report: about as big as --version's", () => {
  // All of a cache is deserialized at the next start: one made at a report's end (512 KB against 198 KB after
  // --version) cost every later report about 2 MiB of peak RSS (docs/benchmarks.md, "Report memory, round
  // seven").
  const dir = install('report-start', false);
  const [reportHome, versionHome] = [join(work, 'xdg-8'), join(work, 'xdg-9')];
  const capture = join(root, 'test', 'fixtures', 'captures', 'known-program.mlens');
  const first = memlens(dir, reportHome, ['summary', capture]);
  version(dir, versionHome);
  const [report, ver] = [statSync(theCacheFile(reportHome)).size, statSync(theCacheFile(versionHome)).size];
  assert.ok(report < ver * 1.25, `${report} bytes after summary, ${ver} after --version`);
  // And it is taken: the next report writes none.
  const made = statSync(theCacheFile(reportHome));
  assert.equal(memlens(dir, reportHome, ['summary', capture]), first);
  assert.equal(statSync(theCacheFile(reportHome)).ino, made.ino);
});

// Pruning (bin/cli-bundle.js, pruneUserCaches): when a start writes a new cache file, and only then.
const { PRUNE_AFTER_DAYS, KEEP_FILES } = createRequire(import.meta.url)(join(root, 'bin', 'cli-bundle.js')) as { PRUNE_AFTER_DAYS: number; KEEP_FILES: number };
const DAY_S = 24 * 60 * 60;
const daysAgo = (days: number): number => Date.now() / 1000 - days * DAY_S;
const cacheName = (n: number): string => `cli-v18.0.0-x64-${n.toString(16).padStart(8, '0')}.v8cache`;

/** A cache directory as memlens makes it (0700) with `files` in it, each 'x', aged `files[name]` days. */
function cacheDirWith(cacheHome: string, files: Record<string, number>): string {
  const dir = join(cacheHome, 'memlens');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [name, age] of Object.entries(files)) {
    writeFileSync(join(dir, name), 'x', { mode: 0o600 });
    utimesSync(join(dir, name), daysAgo(age), daysAgo(age));
  }
  return dir;
}

/** The cache file `dir` (an installation) writes in `cacheHome`, found by writing it in a cache home of its own. */
function cacheNameOf(dir: string): string {
  const alone = mkdtempSync(join(work, 'alone-'));
  version(dir, alone);
  return basename(theCacheFile(alone));
}

test("a new cache file prunes the directory: caches unused for PRUNE_AFTER_DAYS days and old temporaries go, memlens's other files stay", () => {
  const dir = install('prune', false);
  const home = join(work, 'xdg-prune');
  const kept = {
    [cacheName(1)]: PRUNE_AFTER_DAYS - 1,
    // A writer at work, a file of another kind: left alone.
    [`${cacheName(2)}.789.tmp`]: 0,
    'node-versions': 400,
    'debugger-probe-gdb.json': 400,
    'attach-1-2-abc.json': 400,
    'live-8000.token': 400,
    'notes.txt': 400,
  };
  const cache = cacheDirWith(home, { ...kept, [cacheName(3)]: PRUNE_AFTER_DAYS + 1, [`${cacheName(4)}.123.tmp`]: 2, 'node-versions.456.tmp': 2 });
  version(dir, home);
  assert.deepEqual(readdirSync(cache).sort(), [...Object.keys(kept), cacheNameOf(dir)].sort());
});

test('a new cache file leaves the KEEP_FILES most recently used ones', () => {
  const dir = install('prune-many', false);
  const home = join(work, 'xdg-prune-many');
  const ages = Object.fromEntries(Array.from({ length: KEEP_FILES + 2 }, (_, i) => [cacheName(i), i / 24]));
  const cache = cacheDirWith(home, ages);
  version(dir, home);
  // The one just written, and the KEEP_FILES - 1 youngest of the others.
  const expected = [...Object.keys(ages).slice(0, KEEP_FILES - 1), cacheNameOf(dir)];
  assert.deepEqual(readdirSync(cache).sort(), expected.sort());
});

test('pruning deletes no link, directory or file of another user, and nothing through them', () => {
  const dir = install('prune-links', false);
  const home = join(work, 'xdg-prune-links');
  const cache = cacheDirWith(home, {});
  const outside = cacheDirWith(join(work, 'outside'), { [cacheName(1)]: 400 });
  const old = daysAgo(400);
  symlinkSync(join(outside, cacheName(1)), join(cache, cacheName(2)));
  symlinkSync(outside, join(cache, cacheName(3)));
  mkdirSync(join(cache, cacheName(4)));
  writeFileSync(join(cache, cacheName(4), cacheName(5)), 'x');
  utimesSync(join(cache, cacheName(4), cacheName(5)), old, old);
  for (const n of [2, 3, 4]) lutimesSync(join(cache, cacheName(n)), old, old);
  const others = cacheDirWith(join(work, 'xdg-prune-others'), { [cacheName(6)]: 400 });
  chownSync(join(others, cacheName(6)), 1, 1);
  renameSync(join(others, cacheName(6)), join(cache, cacheName(6)));
  version(dir, home);
  assert.deepEqual(readdirSync(cache).sort(), [2, 3, 4, 6].map(cacheName).concat(cacheNameOf(dir)).sort());
  assert.deepEqual(readdirSync(outside), [cacheName(1)]);
  assert.deepEqual(readdirSync(join(cache, cacheName(4))), [cacheName(5)]);
});

test('a cache directory reached through a link, or that others may write, is neither written nor pruned', () => {
  const dir = install('prune-not-ours', false);
  const target = cacheDirWith(join(work, 'link-target'), { [cacheName(1)]: 400 });
  const linked = join(work, 'xdg-linked');
  mkdirSync(linked);
  symlinkSync(target, join(linked, 'memlens'));
  version(dir, linked);
  assert.deepEqual(readdirSync(target), [cacheName(1)]);
  const shared = join(work, 'xdg-shared');
  const cache = cacheDirWith(shared, { [cacheName(1)]: 400 });
  chmodSync(cache, 0o770);
  version(dir, shared);
  assert.deepEqual(readdirSync(cache), [cacheName(1)]);
});

test('a start that uses its cache prunes nothing, and marks the cache used once a day', () => {
  const dir = install('mark-used', false);
  const home = join(work, 'xdg-mark-used');
  version(dir, home);
  const path = theCacheFile(home);
  const cache = cacheDirWith(home, { [cacheName(1)]: 400 });
  utimesSync(path, daysAgo(2), daysAgo(2));
  const before = statSync(path);
  version(dir, home);
  const used = statSync(path);
  assert.equal(used.ino, before.ino);
  assert.ok(used.mtimeMs > before.mtimeMs + DAY_S * 1000, `${used.mtime.toISOString()} after ${before.mtime.toISOString()}`);
  assert.ok(readdirSync(cache).includes(cacheName(1)));
  // Within the day, the file is not touched again.
  version(dir, home);
  assert.equal(statSync(path).mtimeMs, used.mtimeMs);
});
