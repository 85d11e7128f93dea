// The interactive `memlens tree` in a real terminal (tmux): it draws on the alternate screen with the
// cursor hidden and keys in raw mode, keys close and open a node, and however it ends — q, or a signal sent to
// memlens — the terminal is given back: main screen, cursor, cooked mode; a signal still ends memlens
// with that signal's status.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from './support/memlens-run.js';
import { REPO_ROOT } from './support/pythons.js';
import { Tmux } from './support/tmux.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';

const MEMLENS = join(REPO_ROOT, 'bin', 'memlens.js');
const CAPTURE = join(REPO_ROOT, 'test', 'fixtures', 'captures', 'known-program.mlens');

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** tmux runs the command under sh; memlens is that shell's child (node runs with its flags: no relaunch). */
function startTree(tmp: string): Tmux {
  const node = [process.execPath, ...NODE_FLAGS, MEMLENS].map(shellQuote).join(' ');
  const cmd = `${node} tree ${shellQuote(CAPTURE)}; echo TREE-EXITED $?; stty -a | grep -o -- '-\\?icanon' | head -1; sleep 60`;
  return new Tmux(cmd, { width: 110, height: 30, cwd: tmp });
}

function memlensPid(tmux: Tmux): number {
  const shell = tmux.format('#{pane_pid}');
  const children = readFileSync(`/proc/${shell}/task/${shell}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter((x) => x !== '');
  assert.equal(children.length, 1, `the shell's children: ${children.join(' ')}`);
  return Number(children[0]);
}

async function assertRestored(tmux: Tmux, status: number): Promise<void> {
  await tmux.waitFor('memlens to exit', (s) => s.includes('TREE-EXITED'));
  assert.match(tmux.screen(), new RegExp(`TREE-EXITED ${status}\\n`));
  assert.equal(tmux.format('#{alternate_on}'), '0', 'back on the main screen');
  assert.equal(tmux.format('#{cursor_flag}'), '1', 'cursor shown');
  await tmux.waitFor('stty', (s) => /icanon/.test(s));
  assert.match(tmux.screen(), /\nicanon\n/, 'canonical (cooked) mode again');
}

test('tmux: memlens tree draws, closes and opens a node, and q gives the terminal back', async () => {
  const tmp = tempDir('memlens-tree-tui-');
  const tmux = startTree(tmp.dir);
  try {
    const screen = await tmux.waitFor('the tree', (s) => s.includes('q quit') && /<module> at known_prog\.py:18/.test(s));
    assert.equal(tmux.format('#{alternate_on}'), '1', 'on the alternate screen');
    assert.equal(tmux.format('#{cursor_flag}'), '0', 'cursor hidden');
    assert.match(screen, /▾ 17\.0 MiB 100\.00% {2}<all: 10 stacks>/);
    // One key at a time, each waited for on the screen (the view reads one key per chunk of input).
    tmux.keys('h');
    await tmux.waitFor('the root closed', (s) => /▸ 17\.0 MiB 100\.00% {2}<all: 10 stacks>/.test(s) && !s.includes('<module> at known_prog.py:18'));
    tmux.keys('l');
    await tmux.waitFor('the root open again', (s) => /▾ 17\.0 MiB/.test(s) && s.includes('<module> at known_prog.py:18'));
    tmux.keys('q');
    await assertRestored(tmux, 0);
  } finally {
    tmux.close();
    tmp.remove();
  }
});

for (const [signal, status] of [
  ['SIGTERM', 143],
  ['SIGHUP', 129],
] as const) {
  test(`tmux: ${signal} to memlens tree restores the terminal and ends memlens by ${signal}`, async () => {
    const tmp = tempDir('memlens-tree-tui-');
    const tmux = startTree(tmp.dir);
    try {
      await tmux.waitFor('the tree', (s) => s.includes('q quit'));
      assert.equal(tmux.format('#{alternate_on}'), '1');
      process.kill(memlensPid(tmux), signal);
      await assertRestored(tmux, status);
    } finally {
      tmux.close();
      tmp.remove();
    }
  });
}
