// The memlens executable as a shell starts it (bin/memlens.js and src/cli/node-flags.ts): node gets
// NODE_FLAGS from its first line, or memlens relaunches itself with them; output, exit status, signals
// and job control (Ctrl-Z, fg, Ctrl-C in tmux) pass through the relaunch as if there were one process.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../src/util/node-flags.js';
// `node bin/memlens.js` without NODE_FLAGS writes a code cache for those flags: in a directory of this test's own.
import './support/cache-home.js';

const BIN = join(fileURLToPath(import.meta.url), '..', '..', '..', 'bin', 'memlens.js');
const dir = mkdtempSync(join(tmpdir(), 'memlens-flags-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the memlens executable starts node with NODE_FLAGS from its first line', () => {
  // NODE_EXTRA_CA_CERTS is set aside while node starts (src/util/extra-ca.ts; test/push/push-over-extra-ca.test.ts).
  const first = readFileSync(BIN, 'utf8').split('\n')[0] ?? '';
  assert.match(first, new RegExp(`^#!/usr/bin/env -S MLENS_CA=\\$\\{NODE_EXTRA_CA_CERTS\\} NODE_EXTRA_CA_CERTS= node ${NODE_FLAGS.join(' ')}$`));
  // Linux before 5.1 reads at most 127 characters of a first line (255 since).
  assert.ok(first.length <= 127, first);
  const r = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^memlens \d/);
});

test('started as `node bin/memlens.js`, memlens relaunches itself with NODE_FLAGS: same output, same exit status', () => {
  for (const [args, status] of [
    [['--version'], 0],
    [['summary', '/nonexistent/x.mlens'], 1],
  ] as const) {
    const plain = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
    const flagged = spawnSync(process.execPath, [...NODE_FLAGS, BIN, ...args], { encoding: 'utf8' });
    assert.equal(plain.status, status, plain.stderr);
    assert.deepEqual([plain.status, plain.stdout, plain.stderr], [flagged.status, flagged.stdout, flagged.stderr]);
  }
});

test('the relaunched memlens runs with NODE_FLAGS, and SIGTERM sent to the first process reaches it', async () => {
  // The program prints its parent's command line (the relaunched memlens), then waits to be ended.
  const code = 'import os, sys, time\nprint(open("/proc/%d/cmdline" % os.getppid()).read().replace("\\0", " "), flush=True)\ntime.sleep(60)';
  const child = spawn(process.execPath, [BIN, 'run', '-q', '-o', join(dir, 'term.mlens'), '-c', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve();
    });
    child.on('exit', () => reject(new Error(`memlens ended early: ${out}`)));
  });
  assert.ok(out.includes(` ${NODE_FLAGS.join(' ')} `) && out.includes('memlens.js run'), out);
  const t0 = Date.now();
  child.kill('SIGTERM');
  const [status, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  assert.ok(Date.now() - t0 < 20_000);
  // memlens run ends as its program did: killed by SIGTERM.
  assert.ok(signal === 'SIGTERM' || status === 143, `status ${status}, signal ${signal}`);
});

test('relaunched in a terminal: Ctrl-Z stops both processes and fg goes on; Ctrl-C ends the program once, with status 130', async () => {
  const { Tmux } = await import('./support/tmux.js');
  const tmux = new Tmux('env PS1="$ " bash --norc --noprofile -i', { width: 150, height: 30, cwd: dir, env: { HISTFILE: '/dev/null' } });
  try {
    await tmux.waitFor('the prompt', (s) => s.includes('$'));
    const prog =
      "import time\nprint('started', flush=True)\ntry:\n    time.sleep(float(input()))\nexcept KeyboardInterrupt:\n    print('interrupted once', flush=True)\n    raise\nprint('finished', flush=True)";
    // Each command alone on its line: in `a; b`, Ctrl-Z on a would let the shell go on to b.
    writeFileSync(join(dir, 'prog.py'), prog);
    const cmd = (out: string): string => `${process.execPath} ${BIN} run -q -o ${join(dir, out)} prog.py`;
    const status = async (): Promise<string> => {
      tmux.keys('echo "EXIT=$?"', true);
      tmux.keys('Enter');
      const screen = await tmux.waitFor('the exit status', (s) => /EXIT=\d+/.test(s));
      return /EXIT=(\d+)/.exec(screen)?.[1] ?? '';
    };
    tmux.keys(cmd('tstp.mlens'), true);
    tmux.keys('Enter');
    await tmux.waitFor('the program', (s) => s.includes('started'));
    tmux.keys('C-z');
    await tmux.waitFor('the job stopped', (s) => /Stopped/.test(s));
    tmux.keys('fg', true);
    tmux.keys('Enter');
    tmux.keys('0.2', true);
    tmux.keys('Enter');
    await tmux.waitFor('the end of the first run', (s) => s.includes('finished'));
    assert.equal(await status(), '0');
    tmux.keys('clear', true);
    tmux.keys('Enter');
    await tmux.waitFor('a clear screen', (s) => !s.includes('EXIT='));
    tmux.keys(cmd('int.mlens'), true);
    tmux.keys('Enter');
    await tmux.waitFor('the program', (s) => s.includes('started'));
    tmux.keys('C-c');
    const screen = await tmux.waitFor('the interrupt', (s) => s.includes('interrupted once') && /\$ $/m.test(s.trimEnd() + ' '));
    assert.equal(screen.split('interrupted once').length, 2, screen);
    assert.equal(await status(), '130');
  } finally {
    tmux.close();
  }
});
