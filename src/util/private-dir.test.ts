// memlens's private directory on real files: where it is, that it is made private, that a directory or a
// file of another user there is not used or believed.

import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { closePrivateDir, listPrivateFiles, openPrivateDir, privateDirCandidates, readPrivateFile, removePrivateFile, writePrivateFile } from './private-dir.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-private-dir-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('the candidates: $XDG_RUNTIME_DIR, $XDG_CACHE_HOME, ~/.cache; relative ones are ignored', () => {
  assert.deepEqual(privateDirCandidates({ XDG_RUNTIME_DIR: '/run/user/1', XDG_CACHE_HOME: '/c', HOME: '/h' }), ['/run/user/1', '/c', '/h/.cache']);
  assert.deepEqual(privateDirCandidates({ XDG_RUNTIME_DIR: 'rel', HOME: '/h' }), ['/h/.cache']);
  assert.deepEqual(privateDirCandidates({}), []);
});

test('made 0700 under ~/.cache, files 0600 written atomically, read back only if ours', () => {
  const home = join(work, 'home');
  mkdirSync(home);
  const dir = openPrivateDir({ HOME: home });
  assert.ok(dir !== undefined);
  try {
    assert.equal(dir.path, join(home, '.cache', 'memlens'));
    assert.equal(statSync(dir.path).mode & 0o777, 0o700);
    writePrivateFile(dir, 'a.json', '{"x":1}');
    assert.equal(lstatSync(join(dir.path, 'a.json')).mode & 0o777, 0o600);
    assert.equal(readPrivateFile(dir, 'a.json'), '{"x":1}');
    assert.deepEqual(listPrivateFiles(dir, 'a.'), ['a.json']);
    // Written by someone else (another owner), or writable by others: not believed.
    writeFileSync(join(dir.path, 'theirs.json'), '{"forged":true}');
    chownSync(join(dir.path, 'theirs.json'), 65534, 65534);
    assert.equal(readPrivateFile(dir, 'theirs.json'), undefined);
    writeFileSync(join(dir.path, 'loose.json'), '{}');
    chmodSync(join(dir.path, 'loose.json'), 0o666);
    assert.equal(readPrivateFile(dir, 'loose.json'), undefined);
    symlinkSync(join(dir.path, 'a.json'), join(dir.path, 'link.json'));
    assert.equal(readPrivateFile(dir, 'link.json'), undefined, 'a link is not followed');
    removePrivateFile(dir, 'a.json');
    assert.equal(readPrivateFile(dir, 'a.json'), undefined);
  } finally {
    closePrivateDir(dir);
  }
});

test("another user's directory, or a link, in its place is not used; a loose one of ours is made private", () => {
  const home = join(work, 'home2');
  mkdirSync(join(home, '.cache', 'memlens'), { recursive: true });
  chownSync(join(home, '.cache', 'memlens'), 65534, 65534);
  assert.equal(openPrivateDir({ HOME: home }), undefined);
  const home3 = join(work, 'home3');
  mkdirSync(join(home3, '.cache'), { recursive: true });
  mkdirSync(join(work, 'elsewhere'));
  symlinkSync(join(work, 'elsewhere'), join(home3, '.cache', 'memlens'));
  assert.equal(openPrivateDir({ HOME: home3 }), undefined);
  // A shared directory given as the runtime directory is not used.
  const sharedRuntime = join(work, 'shared-runtime');
  mkdirSync(sharedRuntime, { mode: 0o1777 });
  chmodSync(sharedRuntime, 0o1777);
  mkdirSync(join(work, 'home4'));
  const fallback = openPrivateDir({ XDG_RUNTIME_DIR: sharedRuntime, HOME: join(work, 'home4') });
  assert.equal(fallback?.path, join(work, 'home4', '.cache', 'memlens'));
  closePrivateDir(fallback);
  // The runtime directory is preferred; a loose memlens directory of ours is tightened.
  const runtime = join(work, 'runtime');
  mkdirSync(join(runtime, 'memlens'), { recursive: true, mode: 0o755 });
  chmodSync(runtime, 0o700);
  chmodSync(join(runtime, 'memlens'), 0o755);
  const dir = openPrivateDir({ XDG_RUNTIME_DIR: runtime, HOME: home });
  assert.equal(dir?.path, join(runtime, 'memlens'));
  assert.equal(statSync(join(runtime, 'memlens')).mode & 0o777, 0o700);
  closePrivateDir(dir);
});

test('a reader creates nothing, and no one creates a missing home directory', () => {
  const home = join(work, 'home5');
  assert.equal(openPrivateDir({ HOME: home }), undefined);
  assert.ok(!existsSync(home), 'a missing home is not made');
  mkdirSync(home);
  assert.equal(openPrivateDir({ HOME: home }, { create: false }), undefined);
  assert.ok(!existsSync(join(home, '.cache')), 'a reader makes nothing');
  const dir = openPrivateDir({ HOME: home });
  assert.equal(dir?.path, join(home, '.cache', 'memlens'));
  closePrivateDir(dir);
  const again = openPrivateDir({ HOME: home }, { create: false });
  assert.equal(again?.path, join(home, '.cache', 'memlens'));
  closePrivateDir(again);
});
