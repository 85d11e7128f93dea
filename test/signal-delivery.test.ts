// A signal reaches the program under `memlens run` once, whoever sends it (issue 11: without a terminal, a
// SIGINT sent to the process group, as `timeout -s INT` and `kill -INT -PGID` send it, reached the program
// twice: from the sender and passed on by memlens; the program's graceful-shutdown handler was interrupted
// and memlens's atexit code printed a KeyboardInterrupt traceback). Through pipes (no terminal) and in
// tmux (a terminal: Ctrl-C, and a kill to the foreground group).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { NODE_FLAGS } from '../src/util/node-flags.js';
import { REPO_ROOT, testPythons } from './support/pythons.js';
import { Tmux } from './support/tmux.js';

const MEMLENS = join(REPO_ROOT, 'bin', 'memlens.js');
const work = mkdtempSync(join(tmpdir(), 'memlens-signals-'));
after(() => rmSync(work, { recursive: true, force: true }));
const py = testPythons().find((p) => p.minor === 11 && !p.system) ?? testPythons()[0]!;

// Counts each signal; the first starts a graceful shutdown that then waits a second for a duplicate (one
// passed on arrives within milliseconds: a slow machine can only hide a duplicate, never invent one).
const PROGRAM = `import os, signal, sys, time
got = []
def handler(sig, frame):
    got.append(signal.Signals(sig).name)
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, handler)
keep = []
print("ready", os.getpid(), os.getpgrp(), flush=True)
while not got:  # busy in Python: the handler runs the moment a signal lands, so a duplicate cannot merge into it
    keep.append(bytearray(1000))
    del keep[:-100]
time.sleep(1)  # the graceful shutdown
print("signals", " ".join(got), flush=True)
`;
const prog = join(work, 'graceful.py');
writeFileSync(prog, PROGRAM);

async function until(what: string, test: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const [how, sig, toGroup] of [
  ['SIGINT to the process group', 'SIGINT', true],
  ['SIGTERM to the process group', 'SIGTERM', true],
  ['SIGINT to memlens alone', 'SIGINT', false],
] as const) {
  test(`without a terminal, ${how} reaches the program once`, async () => {
    const capture = join(work, `pipes-${sig}-${toGroup}.mlens`);
    // A process group of its own, as `timeout` makes one: the group is memlens's.
    const runner = spawn(process.execPath, [...NODE_FLAGS, MEMLENS, 'run', '-f', '-o', capture, '--python', py.python, prog], { stdio: ['pipe', 'pipe', 'pipe'], cwd: work, detached: true });
    let out = '';
    let err = '';
    runner.stdout.on('data', (d: Buffer) => (out += d.toString()));
    runner.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => runner.on('exit', (c) => r(c)));
    await until(`the program to start: ${out}${err}`, () => /ready \d+/.test(out));
    process.kill(toGroup ? -runner.pid! : runner.pid!, sig);
    const code = await exited;
    assert.match(out, new RegExp(`^signals ${sig}$`, 'm'), `${out}\n${err}`);
    assert.doesNotMatch(err, /Traceback|KeyboardInterrupt/);
    assert.equal(code, 0, err);
    assert.ok(existsSync(capture), 'the capture was written');
  });
}

for (const how of ['Ctrl-C', 'SIGINT to the foreground process group']) {
  test(`in a terminal, ${how} reaches the program once`, async () => {
    const tag = how === 'Ctrl-C' ? 'key' : 'kill';
    const status = join(work, `tty-${tag}.status`);
    const log = join(work, `tty-${tag}.out`);
    const capture = join(work, `tty-${tag}.mlens`);
    const tmux = new Tmux(`node ${MEMLENS} run -f -o ${capture} --python ${py.python} ${prog} > ${log} 2>&1; echo $? > ${status}; sleep 30`, { width: 120, height: 30, cwd: work });
    try {
      await until('the program to start', () => existsSync(log) && /ready \d+ \d+/.test(readFileSync(log, 'utf8')));
      const [, , pgrp] = /ready (\d+) (\d+)/.exec(readFileSync(log, 'utf8')) ?? [];
      if (how === 'Ctrl-C') tmux.keys('C-c');
      else process.kill(-Number(pgrp), 'SIGINT');
      await until('memlens to finish', () => existsSync(status) && readFileSync(status, 'utf8').trim() !== '');
      const text = readFileSync(log, 'utf8');
      assert.match(text, /^signals SIGINT\r?$/m, text);
      assert.doesNotMatch(text, /Traceback|KeyboardInterrupt/);
    } finally {
      tmux.close();
    }
  });
}
