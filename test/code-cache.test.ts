// The CLI bundle's V8 code cache (bin/cli-bundle.js): beside the bundle when the node that built the package
// made it, else in the user's cache directory, written at the end of a command that compiled without one
// and used by the next; never believed when another user could have written it, and never in the way: a
// cache directory memlens cannot write leaves the CLI as it was. Needs `npm run build` first.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../src/util/node-flags.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'memlens-code-cache-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A copy of the package's CLI: bin/ and the bundle, with the build's code cache beside it or not. */
function install(name: string, withShippedCache: boolean): string {
  const dir = join(work, name);
  cpSync(join(root, 'bin'), join(dir, 'bin'), { recursive: true });
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  mkdirSync(join(dir, 'dist'));
  copyFileSync(join(root, 'dist', 'memlens.cjs'), join(dir, 'dist', 'memlens.cjs'));
  if (withShippedCache) copyFileSync(join(root, 'dist', 'memlens.cjs.v8cache'), join(dir, 'dist', 'memlens.cjs.v8cache'));
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

test('without a cache beside the bundle, the first run writes one in the user cache directory, privately, and the next uses it as it is', () => {
  const dir = install('no-shipped-cache', false);
  const home = join(work, 'xdg-1');
  const expected = version(install('reference', true), join(work, 'xdg-reference'));
  assert.equal(version(dir, home), expected);
  const [file, ...others] = cacheFiles(home);
  assert.ok(file !== undefined && others.length === 0, String(cacheFiles(home)));
  const path = join(home, 'memlens', file);
  const first = statSync(path);
  assert.equal(first.mode & 0o777, 0o600);
  assert.equal(statSync(join(home, 'memlens')).mode & 0o777, 0o700);
  // Used, not refused: a refused or unread cache is written again at the end (a new file renamed into place).
  assert.equal(version(dir, home), expected);
  const second = statSync(path);
  assert.deepEqual([second.ino, second.mtimeMs], [first.ino, first.mtimeMs]);
  assert.deepEqual(cacheFiles(home), [file]);
});

test('a cache file that another user could have written is not used: it is replaced by a private one', () => {
  const dir = install('writable-cache', false);
  const home = join(work, 'xdg-2');
  version(dir, home);
  const [file] = cacheFiles(home);
  assert.ok(file !== undefined);
  const path = join(home, 'memlens', file);
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
  const [file] = cacheFiles(home);
  assert.ok(file !== undefined);
  const path = join(home, 'memlens', file);
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
  const [file] = cacheFiles(home);
  assert.ok(file !== undefined);
  const path = join(home, 'memlens', file);
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
  const dir = install('report', false);
  const home = join(work, 'xdg-7');
  const capture = join(root, 'test', 'fixtures', 'captures', 'known-program.mlens');
  const first = memlens(dir, home, ['stats', capture]);
  const [file, ...others] = cacheFiles(home);
  assert.ok(file !== undefined && others.length === 0, String(cacheFiles(home)));
  const path = join(home, 'memlens', file);
  const made = statSync(path);
  // Refused, it would be written again at the end of each (a new file renamed into place).
  assert.equal(memlens(dir, home, ['stats', capture]), first);
  version(dir, home);
  const after = statSync(path);
  assert.deepEqual([after.ino, after.mtimeMs], [made.ino, made.mtimeMs]);
});
