// A process tracked by `memlens attach -o` may end before anyone detaches: it exits by itself, or it is
// killed. Its attach directory used to stay in /tmp (in a container's /tmp, with the capture in it). Now the
// agent removes it at exit (or leaves the capture for memlens), and memlens's collector, seeing the target
// gone, finalizes the capture and removes what is left. Same file system and across mount namespaces.

import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { containerInfo, spawnInContainer } from '../support/container.js';
import { collecting, makeArena, memlensAsRoot, otherUser, spawnAsOther, until, type Arena } from '../support/other-user.js';
import { REPO_ROOT } from '../support/pythons.js';

let arena: Arena;
const TARGET = join(REPO_ROOT, 'test', 'security', 'programs', 'container_target.py');
const { root: containerRoot } = containerInfo();
const tag = `memlens-cleanup-${process.pid}`;

before(() => {
  arena = makeArena('attach-cleanup');
  copyFileSync(TARGET, join(containerRoot, 'tmp', `${tag}-target.py`));
});
after(() => {
  rmSync(join(containerRoot, 'tmp', `${tag}-target.py`), { force: true });
  rmSync(join(containerRoot, 'tmp', `${tag}-stop`), { force: true });
  arena.remove();
});

async function started(child: ChildProcess): Promise<{ pid: number; output: () => string; exited: Promise<number | null> }> {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  await until(`the target: ${out}`, () => /ready \d+/.test(out));
  return { pid: Number(/ready (\d+)/.exec(out)?.[1]), output: () => out, exited };
}

function dirsIn(tmp: string, pid: number): string[] {
  return readdirSync(tmp).filter((n) => n.startsWith(`memlens-attach-${pid}-`));
}

/** What memlens keeps about PID's sessions in its private directory. */
function sessionStates(pid: number): string[] {
  return readdirSync(join(arena.home, '.cache', 'memlens')).filter((n) => n.startsWith(`attach-${pid}-`));
}

/** The capture is whole: memlens reads it without a warning and finds the target's allocations. */
function assertReadable(capture: string): void {
  const r = memlensAsRoot(['summary', '--json', capture], { home: arena.home });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /warning/);
  assert.match(r.stdout, /container_target\.py|"rows"/);
}

test('a target of another user that exits by itself while tracked leaves nothing in /tmp, and its capture is finalized', async () => {
  const stop = join(arena.shared, 'stop-1');
  const t = await started(spawnAsOther(['/usr/bin/python3', TARGET, stop], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const capture = join(arena.shared, 'exits.mlens');
  const a = memlensAsRoot(['attach', String(t.pid), '-o', capture, '--method', 'lldb', '--timeout', '60'], { home: arena.home });
  assert.equal(a.code, 0, a.stderr);
  assert.equal(dirsIn('/tmp', t.pid).length, 1);
  writeFileSync(stop, '');
  assert.equal(await t.exited, 0, t.output());
  await until('the attach directory to go', () => dirsIn('/tmp', t.pid).length === 0);
  // The collector compresses the capture once the target is gone.
  await until('the collector to finish', () => !collecting(t.pid));
  assert.deepEqual(sessionStates(t.pid), []);
  assertReadable(capture);
});

test('a target killed while tracked: memlens sees it gone, finalizes the capture and removes the directory', async () => {
  const child = spawn('/usr/bin/python3', [TARGET], { stdio: ['ignore', 'pipe', 'pipe'] });
  const t = await started(child);
  const capture = join(arena.root, 'killed.mlens');
  const a = memlensAsRoot(['attach', String(t.pid), '-o', capture, '--method', 'lldb', '--timeout', '60'], { home: arena.home });
  assert.equal(a.code, 0, a.stderr);
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGKILL');
  await t.exited;
  await until('the attach directory to go', () => dirsIn('/tmp', t.pid).length === 0);
  await until('the collector to finish', () => !collecting(t.pid));
  assert.deepEqual(sessionStates(t.pid), []);
  assert.ok(existsSync(capture));
  const r = memlensAsRoot(['summary', capture], { home: arena.home });
  assert.equal(r.code, 0, r.stderr);
});

test("a target in a container that exits while tracked: its capture is copied out and nothing stays in the container's /tmp", async () => {
  const stop = join(containerRoot, 'tmp', `${tag}-stop`);
  const t = await started(spawnInContainer(['/usr/bin/python3.14', `/tmp/${tag}-target.py`, `/tmp/${tag}-stop`], { stdio: ['ignore', 'pipe', 'pipe'] }, otherUser()));
  const capture = join(arena.root, 'container.mlens');
  const a = memlensAsRoot(['attach', String(t.pid), '-o', capture, '--method', 'remote-exec'], { home: arena.home });
  assert.equal(a.code, 0, a.stderr);
  assert.equal(dirsIn(join(containerRoot, 'tmp'), t.pid).length, 1);
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(stop, '');
  assert.equal(await t.exited, 0, t.output());
  await until('the capture to be copied out', () => existsSync(capture));
  await until('the attach directory to go', () => dirsIn(join(containerRoot, 'tmp'), t.pid).length === 0);
  await until('the collector to finish', () => !collecting(t.pid));
  assert.deepEqual(sessionStates(t.pid), []);
  assertReadable(capture);
});
