// The file operations another user cannot redirect, on real files: links at the last component and on the
// way, FIFOs, a directory swapped after it was opened, '..' and links below a root (a container's, seen from
// the host). The attacks by a second user are in test/security/.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { atPath, createFileAt, emptyDirectory, makePrivateDirectoryAt, openDirectoryWithin, openTrustedDirectory, readRegularFile, removeDirectoryAt, writeNewFileAt } from './safe-fs.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-safe-fs-'));
after(() => rmSync(work, { recursive: true, force: true }));

function dirFd(path: string): number {
  return openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
}

test('a file is created new and private, never through a link, and replaced rather than written through', () => {
  const d = join(work, 'create');
  mkdirSync(d);
  writeFileSync(join(work, 'victim'), 'precious');
  symlinkSync(join(work, 'victim'), join(d, 'link'));
  const fd = dirFd(d);
  try {
    assert.throws(() => createFileAt(fd, 'link'), { code: 'EEXIST' });
    writeNewFileAt(fd, 'link', 'new');
    assert.equal(readFileSync(join(work, 'victim'), 'utf8'), 'precious', 'the link was replaced, not followed');
    assert.equal(lstatSync(join(d, 'link')).isFile(), true);
    assert.equal(lstatSync(join(d, 'link')).mode & 0o777, 0o600);
    assert.throws(() => createFileAt(fd, '../escape'), /not a file name/);
  } finally {
    closeSync(fd);
  }
});

test('a directory held open is the one written, whatever happens to its path', () => {
  const d = join(work, 'held');
  mkdirSync(d);
  const fd = dirFd(d);
  try {
    renameSync(d, join(work, 'moved'));
    mkdirSync(d);
    writeNewFileAt(fd, 'f', 'x');
    assert.ok(existsSync(join(work, 'moved', 'f')));
    assert.ok(!existsSync(join(d, 'f')));
  } finally {
    closeSync(fd);
  }
});

test('reading refuses links, FIFOs and files past the bound, without blocking', () => {
  const d = join(work, 'read');
  mkdirSync(d);
  execFileSync('mkfifo', [join(d, 'fifo')]);
  symlinkSync('/etc/hostname', join(d, 'link'));
  writeFileSync(join(d, 'big'), 'x'.repeat(100));
  writeFileSync(join(d, 'ok'), 'ok');
  assert.throws(() => readRegularFile(join(d, 'fifo'), 10), /not a regular file/);
  assert.throws(() => readRegularFile(join(d, 'link'), 10), /symbolic link/);
  assert.throws(() => readRegularFile(join(d, 'big'), 99), /larger than memlens expects/);
  assert.equal(readRegularFile(join(d, 'big'), 100)?.length, 100);
  assert.equal(readRegularFile(join(d, 'ok'), 10)?.toString(), 'ok');
  assert.equal(readRegularFile(join(d, 'missing'), 10), undefined);
});

test('below a root, no link and no .. is followed', () => {
  const root = join(work, 'root');
  mkdirSync(join(root, 'real', 'tmp'), { recursive: true });
  mkdirSync(join(root, 'linked'));
  // A container's /tmp that is a link: absolute (resolved on the host if followed) and relative.
  symlinkSync('/etc', join(root, 'linked', 'tmp'));
  symlinkSync('../real/tmp', join(root, 'linked', 'rel'));
  const rootFd = dirFd(root);
  try {
    const ok = openDirectoryWithin(rootFd, 'real/tmp', (p) => p);
    assert.equal(fstatSync(ok).ino, lstatSync(join(root, 'real', 'tmp')).ino);
    closeSync(ok);
    assert.throws(() => openDirectoryWithin(rootFd, 'linked/tmp', (p) => `${p} of the target`), /\/linked\/tmp of the target is a symbolic link/);
    assert.throws(() => openDirectoryWithin(rootFd, 'linked/rel', (p) => p), /symbolic link/);
    assert.throws(() => openDirectoryWithin(rootFd, 'real/../..', (p) => p), /'\.\.' is not followed/);
  } finally {
    closeSync(rootFd);
  }
});

test('a private directory is made 0700 and refused if it exists; emptying it never enters or follows anything', () => {
  const parent = join(work, 'private');
  mkdirSync(parent);
  const pfd = dirFd(parent);
  try {
    const fd = makePrivateDirectoryAt(pfd, 'session', 'session');
    assert.equal(fstatSync(fd).mode & 0o777, 0o700);
    assert.throws(() => makePrivateDirectoryAt(pfd, 'session', 'session'), { code: 'EEXIST' });
    // What another user may leave inside: links to things outside, a directory with content.
    mkdirSync(join(work, 'outside'));
    writeFileSync(join(work, 'outside', 'keep'), 'keep');
    symlinkSync(join(work, 'outside'), join(parent, 'session', 'dirlink'));
    symlinkSync(join(work, 'outside', 'keep'), join(parent, 'session', 'filelink'));
    mkdirSync(join(parent, 'session', 'full'));
    writeFileSync(join(parent, 'session', 'full', 'x'), 'x');
    mkdirSync(join(parent, 'session', 'empty'));
    writeFileSync(join(parent, 'session', 'f'), 'f');
    assert.deepEqual(emptyDirectory(fd), ['full']);
    assert.equal(readFileSync(join(work, 'outside', 'keep'), 'utf8'), 'keep');
    const st = fstatSync(fd);
    removeDirectoryAt(pfd, 'session', st);
    assert.ok(existsSync(join(parent, 'session')), 'not empty: left');
    rmSync(join(parent, 'session', 'full'), { recursive: true });
    removeDirectoryAt(pfd, 'session', { dev: st.dev, ino: st.ino + 1 });
    assert.ok(existsSync(join(parent, 'session')), 'another directory by that name is left alone');
    removeDirectoryAt(pfd, 'session', st);
    assert.ok(!existsSync(join(parent, 'session')));
    closeSync(fd);
  } finally {
    closeSync(pfd);
  }
});

test("the output's directory is reached through links of root or this user only, and is the one checked", () => {
  const real = join(work, 'out-real');
  mkdirSync(real);
  symlinkSync(real, join(work, 'own-link'));
  const fd = openTrustedDirectory(join(work, 'own-link'));
  assert.equal(fstatSync(fd).ino, lstatSync(real).ino);
  closeSync(fd);
  // A link of another user (here: given to nobody) is refused, wherever it is on the path.
  symlinkSync(real, join(work, 'their-link'));
  execFileSync('chown', ['-h', '65534:65534', join(work, 'their-link')]);
  assert.throws(() => openTrustedDirectory(join(work, 'their-link')), /their-link is a symbolic link of another user \(uid 65534\)/);
  mkdirSync(join(real, 'sub'));
  assert.throws(() => openTrustedDirectory(join(work, 'their-link', 'sub')), /symbolic link of another user/);
  assert.throws(() => openTrustedDirectory(join(work, 'nope', 'x')), /no such directory/);
  writeFileSync(join(work, 'afile'), '');
  assert.throws(() => openTrustedDirectory(join(work, 'afile')), /is not a directory/);
  // A relative link and '..' resolve as the kernel would.
  symlinkSync('out-real/sub/..', join(work, 'rel-link'));
  const rel = openTrustedDirectory(join(work, 'rel-link', 'sub'));
  assert.equal(fstatSync(rel).ino, lstatSync(join(real, 'sub')).ino);
  closeSync(rel);
  chmodSync(work, 0o700);
  assert.equal(atPath(3, 'x'), '/proc/self/fd/3/x');
});
