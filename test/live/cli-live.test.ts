// The live view as users reach it: memlens run --live (in tmux), --live-remote with memlens live PORT,
// --live --web (the page's state over HTTP, the token), and memlens attach PID without -o (quitting
// detaches and the target goes on).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO_ROOT, testPythons } from '../support/pythons.js';
import { Tmux } from '../support/tmux.js';
import { NODE_FLAGS } from '../../src/util/node-flags.js';

const MEMLENS = join(REPO_ROOT, 'bin', 'memlens.js');
const work = mkdtempSync(join(tmpdir(), 'memlens-cli-live-'));
after(() => rmSync(work, { recursive: true, force: true }));
const py = testPythons().find((p) => p.minor === 11 && !p.system) ?? testPythons()[0];

const GROWER = `import os, sys, time
KEEP = []
def grow_cache():
    KEEP.append(bytearray(400_000))
print("ready", os.getpid(), flush=True)
for i in range(int(sys.argv[1])):
    grow_cache()
    time.sleep(0.02)
# With a stop file, the program holds its memory until the test has seen it (a loaded machine may start the
# viewer after a fixed-length run has ended), at most two minutes.
if len(sys.argv) > 2:
    for _ in range(1200):
        if os.path.exists(sys.argv[2]):
            break
        time.sleep(0.1)
print("grown", len(KEEP), flush=True)
sys.exit(3)
`;
const prog = join(work, 'grower.py');

/** Waits until `test()` holds, at most `ms`; fails with `what` otherwise (a test must never hang). */
async function until(what: string, test: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
writeFileSync(prog, GROWER);

test('memlens run --live shows the growing function, the program output, the exit, and exits with its status', async () => {
  assert.ok(py !== undefined);
  const status = join(work, 'live-status');
  const stop = join(work, 'live-stop');
  const tmux = new Tmux(`node ${MEMLENS} run --live --python ${py.python} ${prog} 100 ${stop}; echo $? > ${status}; sleep 30`, { width: 120, height: 30, cwd: work });
  try {
    const screen = await tmux.waitFor('the grower in the view', (s) => /grow_cache at grower\.py:4/.test(s), 60_000);
    assert.match(screen, /memlens live · PID \d+/);
    writeFileSync(stop, '');
    const ended = await tmux.waitFor('the end line', (s) => /Exited with status 3/.test(s));
    assert.match(ended, /grown 100/, 'the program output panel');
    tmux.keys('q');
    await tmux.waitFor('the exit status', () => existsSync(status));
    const { readFileSync } = await import('node:fs');
    assert.equal(readFileSync(status, 'utf8').trim(), '3');
  } finally {
    tmux.close();
  }
});

test('memlens run --live-remote serves the stream to memlens live PORT, and writes the capture', async () => {
  assert.ok(py !== undefined);
  const capture = join(work, 'remote.mlens');
  const stop = join(work, 'remote-stop');
  const runner = spawn(process.execPath, [...NODE_FLAGS, MEMLENS, 'run', '--live-remote', '-o', capture, '--python', py.python, prog, '150', stop], { stdio: ['ignore', 'pipe', 'pipe'], cwd: work });
  let err = '';
  runner.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => runner.on('exit', (c) => r(c)));
  await until(`the port in: ${err}`, () => /memlens live (\d+)/.test(err));
  const port = /memlens live (\d+)/.exec(err)?.[1] ?? '';
  const tmux = new Tmux(`node ${MEMLENS} live ${port}; sleep 30`, { width: 110, height: 24, cwd: work });
  try {
    await tmux.waitFor('the grower', (s) => /grow_cache at grower\.py:4/.test(s), 60_000);
    writeFileSync(stop, '');
    // The end: with memlens's EXIT record when the stream carried it before the viewer saw the end, the
    // trailer's "the target exited" when not (both are right; which comes first is timing).
    await tmux.waitFor('the end', (s) => /■ (the target exited|Exited with status 3)/.test(s));
    tmux.keys('q');
  } finally {
    writeFileSync(stop, '');
    tmux.close();
  }
  assert.equal(await exited, 3, err);
  assert.ok(existsSync(capture));
});

test('memlens run --live --web serves the view on 127.0.0.1 behind a token', async () => {
  assert.ok(py !== undefined);
  const runner = spawn(process.execPath, [...NODE_FLAGS, MEMLENS, 'run', '--live', '--web', '--python', py.python, prog, '100'], { stdio: ['ignore', 'pipe', 'pipe'], cwd: work });
  let err = '';
  runner.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    await until(`the URL in: ${err}`, () => /http:\/\/127\.0\.0\.1:\d+\/\S+/.test(err));
    const url = /(http:\/\/127\.0\.0\.1:\d+\/\S+?)\/?(\s|$)/.exec(err)?.[1] ?? '';
    const base = url.endsWith('/') ? url : `${url}/`;
    let state: { locations?: { function: string }[] } = {};
    for (let i = 0; i < 100 && !(state.locations ?? []).some((l) => l.function === 'grow_cache'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = (await (await fetch(`${base}state`)).json()) as typeof state;
    }
    assert.ok(
      (state.locations ?? []).some((l) => l.function === 'grow_cache'),
      JSON.stringify(state).slice(0, 300),
    );
    const origin = new URL(base).origin;
    assert.equal((await fetch(`${origin}/state`)).status, 404, 'no token, no data');
    assert.equal((await fetch(`${origin}/wrong-token/state`)).status, 404);
  } finally {
    runner.kill('SIGINT');
    await new Promise((r) => runner.on('exit', r));
  }
});

test('memlens run --live --web ends when a SIGTERM ends the program', async () => {
  assert.ok(py !== undefined);
  // Its own process group, as a service manager or \`timeout\` runs it; the SIGTERM goes to memlens.
  const runner = spawn(process.execPath, [...NODE_FLAGS, MEMLENS, 'run', '--live', '--web', '--python', py.python, prog, '100000'], { stdio: ['ignore', 'pipe', 'pipe'], cwd: work, detached: true });
  let err = '';
  runner.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => runner.on('exit', (code, signal) => r({ code, signal })));
  try {
    await until(`the URL in: ${err}`, () => /http:\/\/127\.0\.0\.1:\d+\/\S+/.test(err));
    process.kill(runner.pid!, 'SIGTERM');
    // A guard against a hang, not a timing: before the fix memlens served the page until a Ctrl-C.
    const end = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 60_000))]);
    assert.ok(end !== undefined, `memlens still serves the page after the program ended: ${err}`);
    assert.ok(end.signal === 'SIGTERM' || end.code === 143, JSON.stringify(end));
    assert.doesNotMatch(err, /stays up until Ctrl-C/);
  } finally {
    runner.kill('SIGKILL');
  }
});

test('memlens attach PID without -o opens the live view; quitting detaches and the target goes on', async () => {
  assert.ok(py !== undefined);
  const target = spawn(py.python, [prog, '1000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  target.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => target.on('exit', (c) => r(c)));
  await until('the target to start', () => /ready (\d+)/.test(out));
  const pid = Number(/ready (\d+)/.exec(out)?.[1]);
  const status = join(work, 'attach-status');
  const tmux = new Tmux(`node ${MEMLENS} attach ${pid}; echo $? > ${status}; sleep 30`, { width: 110, height: 24, cwd: work });
  try {
    const s = await tmux.waitFor('the attached view', (x) => /grow_cache at .*grower\.py:4/.test(x));
    assert.match(s, /attached/);
    tmux.keys('q');
    await tmux.waitFor('memlens to finish', () => existsSync(status));
  } finally {
    tmux.close();
  }
  const { readFileSync } = await import('node:fs');
  assert.equal(readFileSync(status, 'utf8').trim(), '0');
  assert.deepEqual(
    readdirSync('/tmp').filter((n) => n.startsWith(`memlens-attach-${pid}-`)),
    [],
    'the attach directory is gone',
  );
  assert.equal(await exited, 3, 'the target ran to its end after the detach');
  assert.match(out, /grown 1000/);
});
