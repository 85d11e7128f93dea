// How the wheel's `memlens` command knows a node's version (python/memlens/_node.py): it asks a node once and
// keeps the answer in the user's cache directory with what identifies that node's file, asks again when the
// file changed, believes no cache another user could have written, and works on without one.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'memlens-node-versions-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A fake node on its own PATH directory that says `version` and counts how often it was asked. */
function fakeNode(name: string, version: string): { dir: string; node: string; asked: () => number } {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const node = join(dir, 'node');
  const count = join(dir, 'asked');
  writeFileSync(node, `#!/bin/sh\necho x >> '${count}'\necho ${version}\n`, { mode: 0o755 });
  return { dir, node, asked: () => (existsSync(count) ? readFileSync(count, 'utf8').split('\n').length - 1 : 0) };
}

/** find_node() in a fresh Python, with PATH = dir only (and the shell's directory for the fake node). */
function findNode(pathDir: string, cacheHome: string, extra: NodeJS.ProcessEnv = {}): { code: number | null; out: string } {
  const r = spawnSync('/usr/bin/python3', ['-c', 'from memlens._node import find_node\nprint(find_node())'], {
    encoding: 'utf8',
    env: { PATH: `${pathDir}:/bin`, PYTHONPATH: join(root, 'python'), XDG_CACHE_HOME: cacheHome, HOME: join(work, 'no-home'), ...extra },
  });
  return { code: r.status, out: r.stdout.trim() + r.stderr.trim() };
}

test('a node is asked its version once; the next start takes it from the cache, privately kept', () => {
  const n = fakeNode('new', 'v22.3.1');
  const cache = join(work, 'cache-1');
  assert.deepEqual(findNode(n.dir, cache), { code: 0, out: n.node });
  assert.equal(n.asked(), 1);
  assert.deepEqual(findNode(n.dir, cache), { code: 0, out: n.node });
  assert.equal(n.asked(), 1);
  const file = join(cache, 'memlens', 'node-versions');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.match(readFileSync(file, 'utf8'), new RegExp(`^\\d+ \\d+ \\d+ 22 3 ${n.node}\\n$`));
});

test('a node whose file changed is asked again, and a too-old one stays refused', () => {
  const n = fakeNode('changing', 'v22.3.1');
  const cache = join(work, 'cache-2');
  findNode(n.dir, cache);
  // Replaced by an older node (another size, another time): asked again, and refused.
  writeFileSync(n.node, `#!/bin/sh\necho x >> '${join(n.dir, 'asked')}'\necho v18.19.0 # older\n`, { mode: 0o755 });
  const r = findNode(n.dir, cache);
  assert.equal(n.asked(), 2);
  assert.notEqual(r.code, 0);
  assert.match(r.out, /too old/);
  assert.equal(n.asked(), 2);
});

test('a cache file that another user could have written is not believed; an unwritable cache leaves the command working', () => {
  const n = fakeNode('shared', 'v18.19.0');
  const cache = join(work, 'cache-3');
  assert.notEqual(findNode(n.dir, cache).code, 0);
  const file = join(cache, 'memlens', 'node-versions');
  // A claim that this node is new enough: believed from a file only this user could have written...
  const [identity] = readFileSync(file, 'utf8').split(' 18 19 ');
  writeFileSync(file, `${identity} 22 0 ${n.node}\n`);
  assert.deepEqual(findNode(n.dir, cache), { code: 0, out: n.node });
  // ...and not from one that others may write: the node is asked, and the file replaced by a private one.
  chmodSync(file, 0o666);
  assert.match(findNode(n.dir, cache).out, /too old/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.match(readFileSync(file, 'utf8'), / 18 19 /);
  // No cache directory can be made: the node is asked each time, and found.
  const ok = fakeNode('no-cache', 'v20.15.0');
  const notADir = join(work, 'a-file');
  writeFileSync(notADir, '');
  assert.deepEqual(findNode(ok.dir, join(notADir, 'cache')), { code: 0, out: ok.node });
  assert.deepEqual(findNode(ok.dir, join(notADir, 'cache')), { code: 0, out: ok.node });
  assert.equal(ok.asked(), 2);
});
