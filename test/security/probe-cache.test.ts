// The debugger probe's answer decides whether gdb or lldb may go near the target (gdb 13 breaks a process
// on CPUs with AMX state; other CPUs let it work, so the tests learn the genuine answer first). It used to be kept in $TMPDIR/memlens-gdb-probe-0.json:
// another user (memlens-test-other) who created that file first could make root's attach overwrite any file
// (a link), pick gdb and break the target (a forged "ok"), or refuse every attach (a forged "fails"). Here the other user tries both, and a forged
// file in memlens's own private directory (as if planted there) must not be believed either.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { probeDebugger } from '../../src/process/debugger-inject.js';
import { asOther, collectorDone, makeArena, memlensAsRoot, otherUser, victimIntact, type Arena } from '../support/other-user.js';

let arena: Arena;
before(() => {
  arena = makeArena('probe-cache');
});
after(() => arena.remove());

interface Target {
  readonly child: ChildProcess;
  readonly pid: number;
  output(): string;
}

/** A Python that sleeps in short steps (a debugger that breaks a sleeping system call shows at once) and says if anything went wrong. */
async function startTarget(): Promise<Target> {
  const code =
    'import os, sys, time\nprint("ready", os.getpid(), flush=True)\ntry:\n    while True: time.sleep(0.05)\nexcept BaseException as e:\n    print("HARMED", type(e).__name__, e, flush=True); raise\n';
  const child = spawn('/usr/bin/python3', ['-c', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 20_000;
  while (!/ready \d+/.test(out)) {
    if (Date.now() > deadline) throw new Error(`the target did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, pid: child.pid as number, output: () => out };
}

/**
 * What a forger gains: the opposite of memlens's genuine answer on this machine. Where gdb breaks a process
 * (AMX), a forged "works" would bring gdb near the target; where gdb works, a forged "fails" would refuse
 * every attach. Either way memlens must act on its own probe, so each test forges the opposite and expects
 * the genuine outcome.
 */
let genuineGdb: boolean;
before(async () => {
  const home = join(arena.root, 'probe-home');
  mkdirSync(home, { mode: 0o700 });
  genuineGdb = (await probeDebugger('gdb', 'gdb', { PATH: process.env['PATH'], HOME: home })).ok;
});

/** The record the old memlens kept in $TMPDIR, as another user can write it: every part of the key is public. */
function forgedOldRecord(tool: 'gdb' | 'lldb', ok: boolean): string {
  const path = `/usr/bin/${tool}`;
  return JSON.stringify({ key: `${path}:${statSync(path).mtimeMs}:${release()}`, ok, reason: ok ? 'ok' : 'forged' });
}

/** An attach with gdb that had the genuine outcome: refused in one line where gdb breaks a process, else tracking, then detached. */
async function assertGenuineAttach(target: Target, out: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const r = memlensAsRoot(['attach', String(target.pid), '--method', 'gdb', '-o', out, '--timeout', '20'], { home: arena.home, env });
  if (genuineGdb) {
    assert.equal(r.code, 0, `gdb works here, and a forged "fails" must not refuse the attach: ${r.stderr}`);
    const d = memlensAsRoot(['detach', String(target.pid), '--method', 'gdb', '--timeout', '60'], { home: arena.home, env });
    assert.equal(d.code, 0, d.stderr);
    await collectorDone(target.pid);
  } else {
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /gdb cannot call functions in a process on this machine/);
  }
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(target.child.exitCode, null, `the target runs on: ${target.output()}`);
  assert.doesNotMatch(target.output(), /HARMED|Traceback/);
}

test('a forged gdb answer left in the shared temp directory is not believed', async () => {
  const forged = forgedOldRecord('gdb', !genuineGdb);
  assert.equal(asOther(['sh', '-c', `printf '%s' '${forged}' > ${join(arena.shared, 'memlens-gdb-probe-0.json')}`]).code, 0);
  const target = await startTarget();
  try {
    await assertGenuineAttach(target, join(arena.root, 'gdb.mlens'), { TMPDIR: arena.shared });
  } finally {
    target.child.kill('SIGKILL');
  }
});

test("a forged answer in memlens's private directory, written by another user, is not believed", async () => {
  // memlens's genuine record, turned into its opposite and given to the other user, as if they had got it
  // into root's private directory: owned by them, it is not root's answer.
  const first = await startTarget();
  try {
    await assertGenuineAttach(first, join(arena.root, 'gdb1.mlens'));
  } finally {
    first.child.kill('SIGKILL');
  }
  const dir = join(arena.home, '.cache', 'memlens');
  const file = join(dir, 'debugger-probe-gdb.json');
  const genuine = JSON.parse(readFileSync(file, 'utf8')) as { key: string; ok: boolean };
  assert.equal(genuine.ok, genuineGdb);
  writeFileSync(file, JSON.stringify({ ...genuine, ok: !genuine.ok, reason: genuine.ok ? 'forged' : 'ok' }));
  chownSync(file, otherUser().uid, otherUser().gid);
  const target = await startTarget();
  try {
    await assertGenuineAttach(target, join(arena.root, 'gdb2.mlens'));
    // The other user cannot reach the private directory at all.
    assert.notEqual(asOther(['ls', dir]).code, 0);
  } finally {
    target.child.kill('SIGKILL');
  }
});

test("links another user planted at the old probe files' names are not written through, and nothing with a fixed name is left in the shared directory", async () => {
  for (const tool of ['gdb', 'lldb']) {
    assert.equal(asOther(['ln', '-sfn', arena.victim, join(arena.shared, `memlens-${tool}-probe-0.json`)]).code, 0);
  }
  // Also lldb's own directory: memlens gives the debuggers a private temporary directory.
  assert.equal(asOther(['mkdir', '-m', '777', join(arena.shared, 'lldb')]).code, 0);
  const before = new Set(readdirSync(arena.shared));
  const target = await startTarget();
  try {
    const out = join(arena.root, 'lldb.mlens');
    const a = memlensAsRoot(['attach', String(target.pid), '--method', 'lldb', '-o', out, '--timeout', '60'], { home: arena.home, env: { TMPDIR: arena.shared } });
    assert.equal(a.code, 0, a.stderr);
    const d = memlensAsRoot(['detach', String(target.pid), '--method', 'lldb', '--timeout', '60'], { home: arena.home, env: { TMPDIR: arena.shared } });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(victimIntact(arena), undefined);
    assert.deepEqual(readdirSync(join(arena.shared, 'lldb')), [], "nothing of root's in the other user's lldb directory");
    assert.deepEqual(
      readdirSync(arena.shared).filter((n) => !before.has(n)),
      [],
      'memlens left nothing in the shared directory',
    );
    assert.equal(target.child.exitCode, null);
    assert.doesNotMatch(target.output(), /HARMED|Traceback/);
  } finally {
    target.child.kill('SIGKILL');
    await collectorDone(target.pid);
  }
});
