// memlens attach and detach against real, running Pythons: every CPython on the machine (debugger
// injection) and CPython 3.14 in another mount namespace (PEP 768 remote execution), with a target that
// checks its own invariants through attach, tracking, detach and a second attach.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { containerInfo, spawnInContainer } from '../support/container.js';
import { label, REPO_ROOT, testPythons } from '../support/pythons.js';
import { NODE_FLAGS } from '../../src/util/node-flags.js';

const MEMLENS = join(REPO_ROOT, 'bin', 'memlens.js');
const TARGET = join(REPO_ROOT, 'test', 'attach', 'invariants_target.py');
const work = mkdtempSync(join(tmpdir(), 'memlens-attach-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function memlens(args: readonly string[], timeoutMs = 120_000): Result {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Target {
  readonly child: ChildProcess;
  readonly pid: number;
  output(): string;
  /** SIGTERM, then the exit status (the target exits 0 only if every invariant check passed). */
  finish(): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>;
}

async function startTarget(child: ChildProcess): Promise<Target> {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const deadline = Date.now() + 20_000;
  while (!/ready (\d+)/.test(out)) {
    if (Date.now() > deadline) throw new Error(`target did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  // The PID the target prints is the Python process (unshare/chroot exec into it, so it equals child.pid).
  const pid = Number(/ready (\d+)/.exec(out)?.[1]);
  return {
    child,
    pid,
    output: () => out,
    async finish() {
      process.kill(pid, 'SIGTERM');
      const e = await exited;
      return { ...e, out };
    },
  };
}

function summaryJson(path: string): { rows: { function: string; file: string; total_bytes: number }[] } {
  const r = memlens(['summary', '--json', path]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { rows: { function: string; file: string; total_bytes: number }[] };
}

function assertAttributed(path: string): void {
  const s = summaryJson(path);
  const worker = s.rows.find((r) => r.function === 'worker' && r.file.endsWith('invariants_target.py'));
  assert.ok(worker !== undefined && worker.total_bytes > 0, `the worker's allocations are in ${path}: ${JSON.stringify(s.rows.slice(0, 5))}`);
  // The attach machinery's own frames are not shown as the program's.
  assert.equal(s.rows.filter((r) => r.file.includes('memlens-attach-') || r.file === '<string>').length, 0, JSON.stringify(s.rows));
}

async function attachDetachTwice(target: Target, name: string, extra: readonly string[] = []): Promise<void> {
  for (const round of [1, 2]) {
    const out = join(work, `${name}-${round}.mlens`);
    const a = memlens(['attach', String(target.pid), '-o', out, ...extra]);
    assert.equal(a.code, 0, `attach ${round}: ${a.stderr}`);
    assert.match(a.stderr, /tracking PID \d+/);
    await new Promise((r) => setTimeout(r, 700));
    const d = memlens(['detach', String(target.pid), ...extra]);
    assert.equal(d.code, 0, `detach ${round}: ${d.stderr}`);
    assert.ok(existsSync(out), `${out} written`);
    assertAttributed(out);
  }
}

for (const py of testPythons()) {
  test(`attach, detach and attach again keep a self-checking target correct (Python ${label(py)})`, async () => {
    const target = await startTarget(spawn(py.python, [TARGET], { stdio: ['ignore', 'pipe', 'pipe'] }));
    try {
      await attachDetachTwice(target, `py${py.version}`);
    } finally {
      const end = await target.finish();
      assert.equal(end.code, 0, `the target's own checks: ${end.out}`);
      assert.match(end.out, /failures 0/);
    }
  });
}

test('attach to CPython 3.14 in another mount namespace uses remote execution, and --duration collects the capture', async () => {
  const { root } = containerInfo();
  copyFileSync(TARGET, join(root, 'tmp', 'invariants_target.py'));
  const target = await startTarget(spawnInContainer(['/usr/bin/python3.14', '/tmp/invariants_target.py'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  try {
    await attachDetachTwice(target, 'container', ['--method', 'remote-exec']);
    const out = join(work, 'container-duration.mlens');
    const a = memlens(['attach', String(target.pid), '-o', out, '--duration', '1']);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stderr, /attached with remote-exec/);
    const deadline = Date.now() + 20_000;
    while (!existsSync(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500)); // the collector compresses after copying
    assertAttributed(out);
    assert.deepEqual(readdirSync(join(root, 'tmp')).filter((n) => n.startsWith(`memlens-attach-${target.pid}-`)), [], 'nothing left in the container');
  } finally {
    const end = await target.finish();
    assert.equal(end.code, 0, `the target's own checks: ${end.out}`);
  }
});

const py311 = testPythons().find((p) => p.minor === 11 && !p.system) ?? testPythons()[0];

test('bad PIDs and processes that are not CPython get one-line errors', () => {
  assert.ok(py311 !== undefined);
  const missing = memlens(['attach', String(2 ** 22 + 4321), '-o', join(work, 'x.mlens')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no process with PID \d+/);
  const sleeper = spawn('sleep', ['30']);
  try {
    const notPython = memlens(['attach', String(sleeper.pid), '-o', join(work, 'x.mlens')]);
    assert.equal(notPython.code, 1);
    assert.match(notPython.stderr, /is not a CPython process/);
  } finally {
    sleeper.kill();
  }
  const usage = memlens(['attach', 'abc']);
  assert.equal(usage.code, 2);
  const noAttach = memlens(['detach', String(process.pid)]);
  assert.equal(noAttach.code, 1);
  assert.match(noAttach.stderr, /is not being tracked/);
});

test('Python 3.8 is refused before anything is touched', async () => {
  const py38 = join(process.env['PYENV_ROOT'] ?? join(process.env['HOME'] ?? '/root', '.pyenv'), 'versions', '3.8.18', 'bin', 'python3');
  assert.ok(existsSync(py38), 'CPython 3.8 is installed (pyenv)');
  const child = spawn(py38, ['-c', 'import time; print("ready", __import__("os").getpid(), flush=True); time.sleep(30)'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const target = await startTarget(child);
  try {
    const r = memlens(['attach', String(target.pid), '-o', join(work, 'old.mlens')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /runs Python 3\.8\.\d+; memlens supports CPython 3\.9 and newer/);
  } finally {
    child.kill('SIGKILL');
  }
});

test('attaching twice says so; a stopped target is refused and stays stopped', async () => {
  assert.ok(py311 !== undefined);
  const target = await startTarget(spawn(py311.python, [TARGET], { stdio: ['ignore', 'pipe', 'pipe'] }));
  try {
    const first = memlens(['attach', String(target.pid), '-o', join(work, 'twice-1.mlens')]);
    assert.equal(first.code, 0, first.stderr);
    const second = memlens(['attach', String(target.pid), '-o', join(work, 'twice-2.mlens')]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /already tracking/);
    assert.equal(memlens(['detach', String(target.pid)]).code, 0);
    process.kill(target.pid, 'SIGSTOP');
    const stopped = memlens(['attach', String(target.pid), '-o', join(work, 'stopped.mlens')]);
    assert.equal(stopped.code, 1);
    assert.match(stopped.stderr, /is stopped/);
    assert.match(spawnSync('ps', ['-o', 'stat=', '-p', String(target.pid)], { encoding: 'utf8' }).stdout, /T/);
    process.kill(target.pid, 'SIGCONT');
  } finally {
    const end = await target.finish();
    assert.equal(end.code, 0, end.out);
  }
});

test('a target asleep in C times out with a clear message, and runs on unharmed', async () => {
  assert.ok(py311 !== undefined);
  const code = 'import os, time; print("ready", os.getpid(), flush=True); time.sleep(6); print("woke", flush=True)';
  const child = spawn(py311.python, ['-c', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  const target = await startTarget(child);
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const r = memlens(['attach', String(target.pid), '-o', join(work, 'asleep.mlens'), '--timeout', '2']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /did not run Python code within 2s/);
  assert.equal(await exited, 0);
  assert.match(target.output(), /woke/);
  assert.doesNotMatch(target.output(), /Traceback|Error/);
  assert.ok(!existsSync(join(work, 'asleep.mlens')));
});

test('Ctrl-C during an attach cancels it and leaves the target alone', async () => {
  assert.ok(py311 !== undefined);
  const code = 'import os, time; print("ready", os.getpid(), flush=True); time.sleep(5); print("woke", flush=True)';
  const child = spawn(py311.python, ['-c', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  const target = await startTarget(child);
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const attacher = spawn(process.execPath, [...NODE_FLAGS, MEMLENS, 'attach', String(target.pid), '-o', join(work, 'cancel.mlens')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  attacher.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise((r) => setTimeout(r, 2500));
  attacher.kill('SIGINT');
  const status = await new Promise<number | null>((r) => attacher.on('exit', (c) => r(c)));
  assert.equal(status, 130, err);
  assert.match(err, /cancelled; nothing was changed/);
  assert.equal(await exited, 0);
  assert.doesNotMatch(target.output(), /Traceback|Error/);
});
