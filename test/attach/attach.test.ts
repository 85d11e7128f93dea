// memlens attach and detach against real, running Pythons: every test CPython (debugger injection before
// 3.14, PEP 768 remote execution from 3.14 on) and CPython 3.14 and 3.15 in another mount namespace, with a
// target that checks its own invariants through attach, tracking, detach and a second attach (and on a
// free-threaded build, that the GIL stayed off).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { containerInfo, spawnInContainer } from '../support/container.js';
import { corePythons, isCorePython, label, REPO_ROOT, testPythons } from '../support/pythons.js';
import { NODE_FLAGS } from '../../src/util/node-flags.js';
import { createLimitedChild, memoryCgroupOf, procsFile, removeCgroup } from '../../src/process/cgroup.js';
import { loadModel } from '../../src/cli/load-model.js';
import type { SiteId } from '../../src/model/ids.js';
import { memoryIo } from '../support/memory-io.js';
import { readCaptureFile } from '../../src/cli/capture-file.js';
import { Collector } from '../support/collect.js';

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

/** verdict --json's ending: why tracking stopped (docs/json.md). */
function endingOf(path: string): { kind: string; stop_reason: string; went_on: boolean; summary: string } {
  const r = memlens(['verdict', '--json', path]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { ending: { kind: string; stop_reason: string; went_on: boolean; summary: string } }).ending;
}

/** A file of an attach directory (src/process/attach-dir.ts: /tmp/memlens-attach-PID-RANDOM). */
const ATTACH_FILE = /^\/tmp\/memlens-attach-\d+-[0-9a-f]{16}\//;

function assertAttributed(path: string, freeThreaded = false): void {
  const s = summaryJson(path);
  const worker = s.rows.find((r) => r.function === 'worker' && r.file.endsWith('invariants_target.py'));
  assert.ok(worker !== undefined && worker.total_bytes > 0, `the worker's allocations are in ${path}: ${JSON.stringify(s.rows.slice(0, 5))}`);
  // The attach machinery's own frames are not shown as the program's. Exception: on a free-threaded build,
  // whose Python objects are all recorded, the few objects the statement a detach injects makes before it
  // turns recording off for its thread (a GIL build's pymalloc keeps such small objects out of sight).
  assert.equal(s.rows.filter((r) => ATTACH_FILE.test(r.file)).length, 0, JSON.stringify(s.rows));
  const injected = s.rows.filter((r) => r.file === '<string>');
  if (!freeThreaded) assert.equal(injected.length, 0, JSON.stringify(s.rows));
  assert.ok(
    injected.every((r) => r.total_bytes <= 1024),
    JSON.stringify(injected),
  );
}

async function attachDetachTwice(target: Target, name: string, extra: readonly string[] = [], freeThreaded = false, rounds = 2): Promise<void> {
  for (let round = 1; round <= rounds; round++) {
    const out = join(work, `${name}-${round}.mlens`);
    const a = memlens(['attach', String(target.pid), '-o', out, ...extra]);
    assert.equal(a.code, 0, `attach ${round}: ${a.stderr}`);
    assert.match(a.stderr, /tracking PID \d+/);
    await new Promise((r) => setTimeout(r, 700));
    const d = memlens(['detach', String(target.pid), ...extra]);
    assert.equal(d.code, 0, `detach ${round}: ${d.stderr}`);
    assert.ok(existsSync(out), `${out} written`);
    assertAttributed(out, freeThreaded);
    const e = endingOf(out);
    assert.deepEqual([e.kind, e.stop_reason, e.went_on], ['stopped', 'detach', true], e.summary);
    assert.match(e.summary, /^Tracking stopped at .*: memlens detached\. The process was still running/);
    assert.match(memlens(['verdict', out]).stdout, /memlens detached/);
  }
}

// Every interpreter is attached to; the second attach after a detach, on the representative ones
// (corePythons: a debugger attach costs tens of seconds on a busy machine).
for (const py of testPythons()) {
  const rounds = isCorePython(py) ? 2 : 1;
  const what = rounds === 2 ? 'attach, detach and attach again keep' : 'attach and detach keep';
  test(`${what} a self-checking target correct (Python ${label(py)})`, async () => {
    const target = await startTarget(spawn(py.python, [TARGET], { stdio: ['ignore', 'pipe', 'pipe'] }));
    try {
      await attachDetachTwice(target, `py${py.version}${py.freeThreaded ? 't' : ''}${py.system ? '-system' : ''}`, [], py.freeThreaded, rounds);
    } finally {
      const end = await target.finish();
      assert.equal(end.code, 0, `the target's own checks: ${end.out}`);
      assert.match(end.out, /failures 0/);
      if (py.freeThreaded) assert.match(end.out, /gil off/, 'the GIL is still off after two attaches and detaches');
    }
  });
}

for (const minor of [14, 15]) {
  test(`attach to CPython 3.${minor} in another mount namespace uses remote execution, and --duration collects the capture`, async () => {
    const { root } = containerInfo();
    const python = `/usr/bin/python3.${minor}`;
    assert.ok(existsSync(join(root, python)), `${python} is in the sid root (node scripts/setup-test-env.mjs installs it)`);
    copyFileSync(TARGET, join(root, 'tmp', 'invariants_target.py'));
    const target = await startTarget(spawnInContainer([python, '/tmp/invariants_target.py'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    try {
      await attachDetachTwice(target, `container${minor}`, ['--method', 'remote-exec']);
      const out = join(work, `container${minor}-duration.mlens`);
      const a = memlens(['attach', String(target.pid), '-o', out, '--duration', '1']);
      assert.equal(a.code, 0, a.stderr);
      assert.match(a.stderr, /attached with remote-exec/);
      const deadline = Date.now() + 20_000;
      while (!existsSync(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 500)); // the collector compresses after copying
      assertAttributed(out);
      const e = endingOf(out);
      assert.deepEqual([e.stop_reason, e.went_on], ['duration', true], e.summary);
      assert.doesNotMatch(e.summary, /exited/);
      assert.deepEqual(
        readdirSync(join(root, 'tmp')).filter((n) => n.startsWith(`memlens-attach-${target.pid}-`)),
        [],
        'nothing left in the container',
      );
    } finally {
      const end = await target.finish();
      assert.equal(end.code, 0, `the target's own checks: ${end.out}`);
    }
  });
}

const py311 = testPythons().find((p) => p.minor === 11 && !p.system) ?? testPythons()[0];

// CPython 3.14's threading copies Thread.name into the OS name (cut to 15 bytes) when a thread starts: that
// is the same name, not a rename; a prctl rename after it is one.
const RENAMES_314 = `import ctypes, os, sys, threading, time
libc = ctypes.CDLL(None)
KEEP = []
print("ready", os.getpid(), flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
def worker():
    KEEP.append(bytearray(1_100_000))
    assert libc.prctl(15, b"by-prctl", 0, 0, 0) == 0
    KEEP.append(bytearray(2_200_000))
t = threading.Thread(target=worker, name="a-thread-name-longer-than-15")
t.start()
t.join()
print("done", flush=True)
while True:
    time.sleep(0.02)
`;

// The attach hides its own frames (its directory's files, the statement a debugger ran), not a program's whose
// path merely contains "memlens-attach-" (this file's work directory is /tmp/memlens-attach-test-*): the main
// thread is in the program's own frames when the attach's statement runs on it. Through a debugger (the oldest)
// and remote execution (the newest).
const MAIN_THREAD_CHURN = `import os, time
KEEP = []


def churn():
    while True:
        KEEP.append(bytearray(100_000))
        if len(KEEP) > 50:
            KEEP.clear()
        time.sleep(0.001)


print("ready", os.getpid(), flush=True)
churn()
`;
for (const py of corePythons().filter((p) => !p.freeThreaded)) {
  test(`a program under a directory named memlens-attach-… keeps its frames (Python ${label(py)})`, async () => {
    const dir = join(work, `memlens-attach-app-${py.version}`);
    mkdirSync(dir);
    const script = join(dir, 'churn.py');
    writeFileSync(script, MAIN_THREAD_CHURN);
    const target = await startTarget(spawn(py.python, [script], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const out = join(work, `named-${py.version}.mlens`);
    try {
      const a = memlens(['attach', String(target.pid), '-o', out]);
      assert.equal(a.code, 0, a.stderr);
      await new Promise((r) => setTimeout(r, 700));
      const d = memlens(['detach', String(target.pid)]);
      assert.equal(d.code, 0, d.stderr);
    } finally {
      await target.finish();
    }
    const rows = summaryJson(out).rows;
    const churn = rows.find((r) => r.function === 'churn' && r.file === script);
    assert.ok(churn !== undefined && churn.total_bytes >= 100_000, JSON.stringify(rows.slice(0, 5)));
    assert.equal(rows.filter((r) => ATTACH_FILE.test(r.file) || r.file === '<string>').length, 0, JSON.stringify(rows));
  });
}

test('CPython 3.14 in a container: a long thread name stays one name, a prctl rename is a rename', async () => {
  const { root } = containerInfo();
  writeFileSync(join(root, 'tmp', 'renames_314.py'), RENAMES_314);
  const go = `/tmp/memlens-renames-go-${process.pid}`;
  rmSync(join(root, go), { force: true });
  const target = await startTarget(spawnInContainer(['/usr/bin/python3.14', '/tmp/renames_314.py', go], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const out = join(work, 'renames-314.mlens');
  try {
    const a = memlens(['attach', String(target.pid), '-o', out, '--method', 'remote-exec']);
    assert.equal(a.code, 0, a.stderr);
    writeFileSync(join(root, go), '');
    const deadline = Date.now() + 30_000; // bounds a failure only
    while (!/done/.test(target.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(target.output(), /done/);
    const d = memlens(['detach', String(target.pid), '--method', 'remote-exec']);
    assert.equal(d.code, 0, d.stderr);
  } finally {
    target.child.kill('SIGKILL');
    rmSync(join(root, go), { force: true });
  }
  const model = await loadModel(memoryIo(), out);
  const namesOf = (bytes: number): string[] => {
    const total = model.sites.columns.totalBytes.array;
    const names = new Set<string>();
    for (let s = 0; s < model.sites.size; s++) if (total[s]! >= bytes && total[s]! < bytes + 4096) names.add(model.threads[model.sites.thread(s as SiteId)]!.name);
    return [...names];
  };
  assert.deepEqual(namesOf(1_100_000), ['a-thread-name-longer-than-15']);
  assert.deepEqual(namesOf(2_200_000), ['by-prctl']);
  assert.ok(!model.threads.some((t) => t.name === 'a-thread-name-l'), model.threads.map((t) => t.name).join(' | '));
  // The agent did see threading's OS rename (the hook fired): it is in the capture, and read as no rename.
  const c = new Collector();
  await readCaptureFile(out, c);
  const osNames = c.c.items.filter((it) => it.type === 'thread-name' && it.osName === true).map((it) => (it.type === 'thread-name' ? it.name : ''));
  assert.ok(osNames.includes('a-thread-name-l') && osNames.includes('by-prctl'), osNames.join(' | '));
});

test('a target that exits while attached says it exited; one killed by SIGKILL says it cannot tell', async () => {
  assert.ok(py311 !== undefined);
  for (const how of ['SIGTERM', 'SIGKILL'] as const) {
    const target = await startTarget(spawn(py311.python, [TARGET], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const out = join(work, `ended-${how}.mlens`);
    const a = memlens(['attach', String(target.pid), '-o', out]);
    assert.equal(a.code, 0, a.stderr);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(target.pid, how);
    await new Promise((r) => target.child.once('exit', r));
    // The background collector finalizes the capture once the target is gone, and removes the attach
    // directory (the 60 s only bound a failure).
    const deadline = Date.now() + 60_000;
    const pending = (): boolean => readdirSync(tmpdir()).some((n) => n.startsWith(`memlens-attach-${target.pid}-`));
    while ((pending() || !existsSync(out)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(!pending() && existsSync(out), 'the collector finished');
    const e = endingOf(out);
    if (how === 'SIGTERM') {
      // The target's SIGTERM handler ends its main loop: the interpreter exits through its exit handlers.
      assert.deepEqual([e.kind, e.stop_reason, e.went_on], ['stopped', 'exit', false], e.summary);
      assert.match(e.summary, /^The program exited at /);
    } else {
      assert.deepEqual([e.kind, e.stop_reason], ['abrupt', 'unknown'], e.summary);
      assert.doesNotMatch(e.summary, /exited|detached/);
    }
  }
});

test('a target OOM-killed in a memory cgroup while attached: the capture says the OOM killer ended it', async () => {
  assert.ok(py311 !== undefined);
  const parent = memoryCgroupOf('self');
  assert.ok(parent !== undefined, 'this test needs a memory cgroup (the machine has one)');
  const cg = createLimitedChild(parent, `memlens-test-attach-oom-${process.pid}`, 160 * 1024 * 1024);
  let spawned: ChildProcess | undefined;
  try {
    // It waits (running Python every 10 ms, where the attach request runs) for a file before growing: memlens
    // attaches first.
    const go = join(work, 'oom-go');
    const code = 'import os, sys, time\nprint("ready", os.getpid(), flush=True)\nwhile not os.path.exists(sys.argv[1]):\n    time.sleep(0.01)\nK = []\nwhile True:\n    K.append(bytearray(8 << 20))\n';
    const child = spawn(py311.python, ['-c', code, go], { stdio: ['ignore', 'pipe', 'pipe'] });
    spawned = child;
    writeFileSync(procsFile(cg), String(child.pid));
    const target = await startTarget(child);
    const out = join(work, 'oom-attached.mlens');
    const a = memlens(['attach', String(target.pid), '-o', out]);
    assert.equal(a.code, 0, a.stderr);
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
    writeFileSync(go, '');
    assert.equal(await exited, 'SIGKILL');
    const deadline = Date.now() + 60_000; // bounds a failure only
    const pending = (): boolean => readdirSync(tmpdir()).some((n) => n.startsWith(`memlens-attach-${target.pid}-`));
    while (pending() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(!pending(), 'the collector finished');
    const e = endingOf(out);
    assert.deepEqual([e.kind, e.stop_reason], ['signal', 'oom-kill'], e.summary);
    assert.match(e.summary, /^Killed by the kernel's OOM killer \(SIGKILL, signal 9\)/);
  } finally {
    // A failure before the OOM kill leaves the target running in the group: end it, or the group stays.
    if (spawned !== undefined && spawned.exitCode === null && spawned.signalCode === null) {
      const gone = new Promise((r) => spawned?.once('exit', r));
      spawned.kill('SIGKILL');
      await gone;
    }
    await removeCgroup(cg);
  }
});

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
