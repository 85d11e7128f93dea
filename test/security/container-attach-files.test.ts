// A process in a container is not trusted by the host. memlens, as root on the host, reaches the container's
// /tmp through /proc/PID/root, where a link planted by the container is resolved in the host's file system.
// Here the target is CPython 3.14 in the container stand-in (test/support/container.ts) running as
// memlens-test-other, and an attacker process of that user in the container works on the attach directory
// between `memlens attach` and `memlens detach`: links in place of every file memlens writes or reads there,
// and the directory itself swapped for a link to a host directory. memlens used to write, chown and copy
// through them: the host's files must come out as they were, and nothing of them may reach the capture.

import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { containerInfo, spawnInContainer } from '../support/container.js';
import { collectorDone, makeArena, memlensAsRoot, otherUser, until, victimIntact, type Arena } from '../support/other-user.js';
import { REPO_ROOT } from '../support/pythons.js';
import type { ChildProcess } from 'node:child_process';

let arena: Arena;
const { root } = containerInfo();
const tag = `memlens-security-${process.pid}`;
const script = join(root, 'tmp', `${tag}-target.py`);
const attacker = join(root, 'tmp', `${tag}-attacker.py`);

before(() => {
  arena = makeArena('container-attach');
  copyFileSync(join(REPO_ROOT, 'test', 'security', 'programs', 'container_target.py'), script);
  copyFileSync(join(REPO_ROOT, 'test', 'security', 'programs', 'container_attacker.py'), attacker);
});
after(() => {
  rmSync(script, { force: true });
  rmSync(attacker, { force: true });
  arena.remove();
});

async function startTarget(): Promise<{ child: ChildProcess; pid: number; output: () => string }> {
  const child = spawnInContainer(['/usr/bin/python3.14', `/tmp/${tag}-target.py`], { stdio: ['ignore', 'pipe', 'pipe'] }, otherUser());
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await until(`the target in the container: ${out}`, () => /ready \d+/.test(out));
  return { child, pid: Number(/ready (\d+)/.exec(out)?.[1]), output: () => out };
}

/** The attacker: the target's user, in the container, doing `what` to PID's attach directory. */
async function attack(pid: number, what: 'links' | 'swap-dir' | 'status', hostPath: string): Promise<string> {
  const child = spawnInContainer(['/usr/bin/python3.14', `/tmp/${tag}-attacker.py`, String(pid), what, hostPath], { stdio: ['ignore', 'pipe', 'pipe'] }, otherUser());
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 0, `the attacker: ${out}`);
  return out;
}

function attachDirs(pid: number): string[] {
  return readdirSync(join(root, 'tmp')).filter((n) => n.startsWith(`memlens-attach-${pid}-`));
}

test('links the container planted in the attach directory are neither written, chowned nor copied through', async () => {
  const target = await startTarget();
  try {
    const out = join(arena.root, 'capture.mlens');
    const a = memlensAsRoot(['attach', String(target.pid), '-o', out, '--method', 'remote-exec'], { home: arena.home });
    assert.equal(a.code, 0, a.stderr);
    const [name] = attachDirs(target.pid);
    assert.ok(name !== undefined);
    const planted = await attack(target.pid, 'links', arena.victim);
    assert.match(planted, /planted/);
    const d = memlensAsRoot(['detach', String(target.pid), '--method', 'remote-exec'], { home: arena.home });
    assert.equal(victimIntact(arena), undefined, `the host's file: detach said ${d.stderr}`);
    assert.ok(!existsSync(out) || !readFileSync(out).includes(arena.victimText), "nothing of the host's file reached the capture");
    assert.match(d.stderr, /capture\.mlens is a symbolic link|not collected/);
    assert.equal(target.child.exitCode, null, `the target runs on: ${target.output()}`);
    assert.deepEqual(attachDirs(target.pid), [], 'the directory is removed, links and all');
  } finally {
    target.child.kill('SIGKILL');
    await collectorDone(target.pid);
  }
});

test('an attach directory the container swapped for a link to a host directory is not used', async () => {
  const target = await startTarget();
  const hostDir = join(arena.root, 'host-dir');
  mkdirSync(hostDir);
  try {
    const a = memlensAsRoot(['attach', String(target.pid), '-o', join(arena.root, 'swapped.mlens'), '--method', 'remote-exec'], { home: arena.home });
    assert.equal(a.code, 0, a.stderr);
    await attack(target.pid, 'swap-dir', hostDir);
    const d = memlensAsRoot(['detach', String(target.pid), '--method', 'remote-exec'], { home: arena.home });
    assert.equal(d.code, 1, d.stderr);
    assert.match(d.stderr, /is not being tracked/);
    assert.deepEqual(readdirSync(hostDir), [], 'nothing was written in the host directory');
    assert.equal(victimIntact(arena), undefined);
    assert.equal(target.child.exitCode, null, `the target runs on: ${target.output()}`);
  } finally {
    target.child.kill('SIGKILL');
    await collectorDone(target.pid);
    for (const n of readdirSync(join(root, 'tmp')).filter((x) => x.startsWith(`memlens-attach-${target.pid}-`))) rmSync(join(root, 'tmp', n), { recursive: true, force: true });
  }
});

test("a status line the target wrote reaches memlens's messages without terminal escapes", async () => {
  const target = await startTarget();
  try {
    const a = memlensAsRoot(['attach', String(target.pid), '-o', join(arena.root, 'status.mlens'), '--method', 'remote-exec'], { home: arena.home });
    assert.equal(a.code, 0, a.stderr);
    await attack(target.pid, 'status', '-');
    const d = memlensAsRoot(['detach', String(target.pid), '--method', 'remote-exec'], { home: arena.home });
    assert.equal(d.code, 1, d.stderr);
    assert.match(d.stderr, /owned/, 'the hostile status is shown');
    for (const c of ['\u001b', '\u0007', '\u202e']) assert.ok(!d.stderr.includes(c), JSON.stringify(d.stderr));
  } finally {
    target.child.kill('SIGKILL');
    await collectorDone(target.pid);
    for (const n of readdirSync(join(root, 'tmp')).filter((x) => x.startsWith(`memlens-attach-${target.pid}-`))) rmSync(join(root, 'tmp', n), { recursive: true, force: true });
  }
});
