// Every command with an output path, run as root, against what another user (memlens-test-other) can put
// at that path or on the way to it: a FIFO or a link in a shared directory, a link to a root file in a
// directory they own, a link to a root directory as a directory of the path; and a device node (root's own
// mistake, -o /dev/full). memlens must refuse each in one line, quickly (a FIFO must not block it), and
// leave what is there as it was. `run -f` used to unlink whatever the path was (a device included), and
// `flamegraph -f` wrote through the link.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { asOther, makeArena, memlensAsRoot, victimIntact, type Arena } from '../support/other-user.js';

let arena: Arena;
let capture: string;
let prog: string;

before(() => {
  arena = makeArena('output-paths');
  prog = join(arena.root, 'prog.py');
  writeFileSync(prog, 'x = [bytearray(1000) for _ in range(100)]\n');
  capture = join(arena.root, 'input.mlens');
  const r = memlensAsRoot(['run', '-q', '-o', capture, '--python', '/usr/bin/python3', prog], { home: arena.home, cwd: arena.root });
  assert.equal(r.code, 0, r.stderr);
});
after(() => arena.remove());

/** The commands that write a file at PATH (with -f or --force), as root. */
function commands(path: string): { name: string; args: string[] }[] {
  return [
    { name: 'run', args: ['run', '-q', '-f', '-o', path, '--python', '/usr/bin/python3', prog] },
    { name: 'run --live-remote', args: ['run', '-q', '--live-remote', '-f', '-o', path, '--python', '/usr/bin/python3', prog] },
    { name: 'flamegraph', args: ['flamegraph', capture, '-f', '-o', path] },
    { name: 'export', args: ['export', capture, '--format', 'folded', '--force', '-o', path] },
  ];
}

function refuses(name: string, r: { code: number | null; stderr: string }, why: RegExp): void {
  assert.equal(r.code, 1, `${name}: ${r.stderr}`);
  assert.match(r.stderr, why, name);
  assert.equal(
    r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('memlens: error:')).length,
    1,
    `${name}: one error line: ${r.stderr}`,
  );
}

test('a FIFO another user put at the path is refused, at once, and stays a FIFO', () => {
  const fifo = join(arena.shared, 'their.fifo');
  assert.equal(asOther(['mkfifo', '-m', '666', fifo]).code, 0);
  for (const c of commands(fifo)) {
    const r = memlensAsRoot(c.args, { home: arena.home, cwd: arena.root, timeoutMs: 60_000 });
    refuses(c.name, r, /their\.fifo is not a regular file \(a device, FIFO or socket\); memlens replaces only regular files/);
    assert.ok(lstatSync(fifo).isFIFO(), c.name);
  }
});

test('a device node at the path is refused and left a device (as root, -o /dev/full -f replaced it by a file)', () => {
  // A copy of /dev/full in the test's own directory: the real one is the machine's.
  const dev = join(arena.root, 'full');
  assert.equal(spawnSync('mknod', ['-m', '666', dev, 'c', '1', '7']).status, 0);
  for (const c of commands(dev)) {
    const r = memlensAsRoot(c.args, { home: arena.home, cwd: arena.root });
    refuses(c.name, r, /full is not a regular file/);
    assert.ok(lstatSync(dev).isCharacterDevice(), `${c.name}: still a device`);
  }
});

test('a link another user put at the path is not written through, with -f or without', () => {
  const link = join(arena.theirs, 'report.out');
  assert.equal(asOther(['ln', '-s', arena.victim, link]).code, 0);
  for (const c of commands(link)) {
    const r = memlensAsRoot(c.args, { home: arena.home, cwd: arena.root });
    refuses(c.name, r, /report\.out is a symbolic link; memlens does not write through it/);
    assert.equal(victimIntact(arena), undefined, c.name);
    assert.ok(lstatSync(link).isSymbolicLink());
  }
  const plain = memlensAsRoot(['flamegraph', capture, '-o', link], { home: arena.home, cwd: arena.root });
  refuses('flamegraph without -f', plain, /is a symbolic link/);
  assert.equal(victimIntact(arena), undefined);
});

test("a directory of the path that is another user's link is not followed: nothing appears where it points", () => {
  const target = join(arena.root, 'victim-dir');
  mkdirSync(target);
  assert.equal(asOther(['ln', '-s', target, join(arena.theirs, 'out')]).code, 0);
  for (const c of commands(join(arena.theirs, 'out', 'file.out'))) {
    const r = memlensAsRoot(c.args, { home: arena.home, cwd: arena.root });
    refuses(c.name, r, /out is a symbolic link of another user \(uid \d+\); memlens does not write through it/);
  }
  assert.deepEqual(readdirSync(target), []);
});

test('census -o and attach -o refuse the same paths before they touch the process', () => {
  const fifo = join(arena.shared, 'census.fifo');
  assert.equal(asOther(['mkfifo', '-m', '666', fifo]).code, 0);
  const link = join(arena.theirs, 'census.json');
  assert.equal(asOther(['ln', '-s', arena.victim, link]).code, 0);
  const child = spawn('/usr/bin/python3', ['-c', 'import time\nwhile True: time.sleep(0.05)'], { stdio: 'ignore' });
  try {
    const pid = String(child.pid);
    for (const path of [fifo, link]) {
      refuses('census', memlensAsRoot(['census', pid, '-f', '-o', path], { home: arena.home }), /not a regular file|symbolic link/);
      refuses('attach', memlensAsRoot(['attach', pid, '-f', '-o', path], { home: arena.home }), /not a regular file|symbolic link/);
    }
    assert.ok(lstatSync(fifo).isFIFO());
    assert.equal(victimIntact(arena), undefined);
    assert.deepEqual(
      readdirSync('/tmp').filter((n) => n.startsWith(`memlens-attach-${pid}-`)),
      [],
      'nothing was placed in the process',
    );
    assert.equal(child.exitCode, null, 'the process runs on');
  } finally {
    child.kill('SIGKILL');
  }
});

test('a regular file is still replaced with -f, and the new file is private', () => {
  for (const c of commands(join(arena.root, 'replace.out'))) {
    const path = join(arena.root, 'replace.out');
    writeFileSync(path, 'old', { mode: 0o644 });
    const r = memlensAsRoot(c.args, { home: arena.home, cwd: arena.root });
    assert.equal(r.code, 0, `${c.name}: ${r.stderr}`);
    assert.ok(existsSync(path));
    assert.equal(lstatSync(path).mode & 0o777, 0o600, c.name);
  }
});
