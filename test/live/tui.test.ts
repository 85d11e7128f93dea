// The live terminal view driven in a real terminal (tmux) on a real program's capture stream: it draws,
// the sort keys reorder, thread switching works, space pauses, the end of the target shows, q quits and
// the terminal is restored; Ctrl-C quits while the target runs; a resize redraws at the new size.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, testPythons } from '../support/pythons.js';
import { tempDir } from '../support/memlens-run.js';
import { Tmux } from '../support/tmux.js';

const ENTRY = join(REPO_ROOT, 'dist', 'test', 'live', 'tui-entry.js');
const PROGRAM = join(REPO_ROOT, 'test', 'live', 'programs', 'grow.py');

/** The table's location rows (between the title line and the first blank or "…" line). */
function tableRows(screen: string): string[] {
  const lines = screen.split('\n');
  const at = lines.findIndex((l) => l.startsWith('Location'));
  const out: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (l.trim() === '' || l.startsWith('…')) break;
    out.push(l);
  }
  return out;
}

const newest = (): string => {
  const ps = testPythons().filter((p) => !p.system);
  return (ps[ps.length - 1] ?? testPythons()[0])?.python ?? 'python3';
};

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

test('tmux: draws, sorts, switches threads, pauses, shows the end, quits and restores the terminal', async () => {
  const tmp = tempDir('memlens-live-tui-');
  const result = join(tmp.dir, 'result.json');
  const stop = join(tmp.dir, 'stop');
  const cmd = `LIVE_RESULT=${shellQuote(result)} ${shellQuote(process.execPath)} ${shellQuote(ENTRY)} ${shellQuote(newest())} ${shellQuote(PROGRAM)} ${shellQuote(stop)} 60; echo ENTRY-EXITED $?; stty -a | grep -o -- '-\\?icanon' | head -1; sleep 60`;
  const tmux = new Tmux(cmd, { width: 120, height: 40, cwd: tmp.dir });
  try {
    // It draws: the header, the growing heap, the allocating function, the program's output.
    let screen = await tmux.waitFor('the view with grow_cache', (s) => s.includes('grow_cache at') && s.includes('worker_loop at') && /step \d+: cache/.test(s));
    assert.match(screen, /^memlens live · PID \d+ · .*grow\.py/);
    assert.match(screen, /running · /);
    assert.match(screen, /Heap [\d.]+ [KM]iB {3}peak/);
    assert.equal(tmux.format('#{alternate_on}'), '1', 'on the alternate screen');
    assert.equal(tmux.format('#{cursor_flag}'), '0', 'cursor hidden');
    const heapOf = (s: string): number => {
      const m = /Heap ([\d.]+) (KiB|MiB)/.exec(s);
      assert.ok(m !== null, s);
      return Number(m[1]) * (m[2] === 'MiB' ? 1024 : 1);
    };
    const h1 = heapOf(screen);
    screen = await tmux.waitFor('the heap to grow', (s) => heapOf(s) > h1 + 256);

    // Sorting by total: <module> and grow_cache hold the cache (a tie, broken by name); by own, grow_cache
    // first (<module> owns nothing); by allocations, the holder thread's many small buffers first.
    assert.match(screen, /<Total Memory>/);
    assert.match(tableRows(screen)[0] ?? '', /^<module> at .*grow\.py:\d+/);
    tmux.keys('o');
    screen = await tmux.waitFor('sort by own', (s) => s.includes('<Own Memory>'));
    assert.match(tableRows(screen)[0] ?? '', /^grow_cache at /);
    assert.ok(!tableRows(screen).some((r) => r.startsWith('<module> at') && / 0 B /.test(r) && tableRows(screen).indexOf(r) < 2));
    tmux.keys('a');
    screen = await tmux.waitFor('sort by allocations', (s) => s.includes('<Allocations>'));
    assert.match(tableRows(screen)[0] ?? '', /^(Thread\.run|worker_loop) at /, screen);
    tmux.keys('t');
    await tmux.waitFor('sort by total again', (s) => s.includes('<Total Memory>'));

    // Threads one at a time: the main thread first, then the holder, then all again.
    tmux.keys('>', true);
    screen = await tmux.waitFor('the main thread alone', (s) => /Thread 1 of 2: MainThread/.test(s));
    assert.ok(tableRows(screen).some((r) => r.startsWith('grow_cache at')));
    assert.ok(!tableRows(screen).some((r) => r.startsWith('worker_loop at')), screen);
    tmux.keys('>', true);
    screen = await tmux.waitFor('the holder thread alone', (s) => /Thread 2 of 2: holder/.test(s));
    assert.ok(tableRows(screen).some((r) => r.startsWith('worker_loop at')));
    assert.ok(!tableRows(screen).some((r) => r.startsWith('grow_cache at')), screen);
    tmux.keys('>', true);
    await tmux.waitFor('all threads', (s) => s.includes('Threads: 2, merged'));
    tmux.keys('<', true);
    await tmux.waitFor('the last thread from all with <', (s) => /Thread 2 of 2: holder/.test(s));
    tmux.keys('m');
    await tmux.waitFor('merged with m', (s) => s.includes('Threads: 2, merged'));

    // Space: the view freezes (clock and figures), the data keeps being read; space again resumes.
    tmux.keys('Space');
    const paused = await tmux.waitFor('paused', (s) => /paused · /.test(s.split('\n')[0] ?? ''));
    await new Promise((r) => setTimeout(r, 1500));
    const stillPaused = tmux.screen();
    const upper = (s: string): string => s.split('\n').slice(0, 20).join('\n');
    assert.equal(upper(stillPaused), upper(paused), 'nothing moves while paused');
    tmux.keys('Space');
    screen = await tmux.waitFor('running again, with newer figures', (s) => /running · /.test(s) && heapOf(s) > heapOf(paused));

    // The target ends: its exit status shows, the view stays until q.
    writeFileSync(stop, '');
    screen = await tmux.waitFor('the end line', (s) => s.includes('■ Exited with status 3 at '));
    assert.match(screen, /\nbye\n/);
    assert.match(screen.split('\n')[0] ?? '', /ended · /);
    tmux.keys('q');
    screen = await tmux.waitFor('the entry to exit', (s) => s.includes('ENTRY-EXITED 0'));
    assert.equal(tmux.format('#{alternate_on}'), '0', 'back on the main screen');
    assert.equal(tmux.format('#{cursor_flag}'), '1', 'cursor shown');
    await tmux.waitFor('stty', (s) => /icanon/.test(s));
    assert.match(tmux.screen(), /\nicanon\n/, 'canonical (cooked) mode again');
    const r = JSON.parse(readFileSync(result, 'utf8')) as { reason: string; rawAfter: boolean; targetWasRunning: boolean; bytes: number };
    assert.equal(r.reason, 'quit');
    assert.equal(r.rawAfter, false);
    assert.equal(r.targetWasRunning, false);
    assert.ok(r.bytes > 10_000);
  } finally {
    tmux.close();
    tmp.remove();
  }
});

test('tmux: Ctrl-C quits while the target runs; a resize redraws at the new size', async () => {
  const tmp = tempDir('memlens-live-tui-');
  const result = join(tmp.dir, 'result.json');
  const cmd = `LIVE_RESULT=${shellQuote(result)} ${shellQuote(process.execPath)} ${shellQuote(ENTRY)} ${shellQuote(newest())} ${shellQuote(PROGRAM)} '' 60; echo ENTRY-EXITED $?; sleep 60`;
  const tmux = new Tmux(cmd, { width: 120, height: 40, cwd: tmp.dir });
  try {
    await tmux.waitFor('the view', (s) => s.includes('grow_cache at'));
    tmux.resize(70, 20);
    const small = await tmux.waitFor('the narrow layout', (s) => s.includes('Total Memory') && !s.includes('Own Memory'));
    const lines = small.split('\n');
    assert.ok(
      lines.every((l) => [...l].length <= 70),
      small,
    );
    assert.ok(
      lines.some((l) => l.startsWith('q quit')),
      'the key help stays on the last line',
    );
    tmux.resize(120, 40);
    await tmux.waitFor('the wide layout', (s) => s.includes('Own Memory') && s.includes('Allocations'));
    tmux.keys('C-c');
    await tmux.waitFor('the entry to exit', (s) => s.includes('ENTRY-EXITED 0'));
    assert.equal(tmux.format('#{alternate_on}'), '0');
    assert.ok(existsSync(result));
    const r = JSON.parse(readFileSync(result, 'utf8')) as { reason: string; targetWasRunning: boolean };
    assert.equal(r.reason, 'quit');
    assert.equal(r.targetWasRunning, true, 'quit before the target ended');
  } finally {
    tmux.close();
    tmp.remove();
  }
});
