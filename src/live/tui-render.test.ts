// The live terminal view drawn at fixed sizes (goldens), in colour and not, with hostile names.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LiveView } from './view-data.js';
import { renderTui, safeText } from './tui-render.js';
import { INITIAL_UI, keysOf, pressKey } from './tui-state.js';
import { toTerminal } from '../util/terminal-text.js';

const MiB = 1048576;

export function sampleView(over: Partial<LiveView> = {}): LiveView {
  const heap = [null, null, 1 * MiB, 2 * MiB, 3 * MiB, 5 * MiB, 8 * MiB, 12 * MiB, 10 * MiB, 12.5 * MiB];
  return {
    started: true,
    pid: 4242,
    command: '/usr/bin/python3 app.py --workers 2',
    pythonVersion: '3.12.1',
    mode: 'run',
    aggregated: false,
    elapsedNs: 65.4e9,
    heap: 12.5 * MiB,
    peakHeap: 14 * MiB,
    liveCount: 1234,
    allocations: 98765,
    rss: 40 * MiB,
    peakRss: 42 * MiB,
    cgroupUsage: 60 * MiB,
    cgroupLimit: 512 * MiB,
    spark: { heap, rss: heap.map((h) => (h === null ? null : h * 2)), windowNs: 120e9, endNs: 65.4e9 },
    threads: [
      { index: 0, osTid: 100, name: 'MainThread', liveBytes: 9.5 * MiB, exited: false },
      { index: 1, osTid: 101, name: 'worker', liveBytes: 3 * MiB, exited: false },
    ],
    thread: undefined,
    sort: 'total',
    shownBytes: 12.5 * MiB,
    shownCount: 1234,
    locations: [
      { function: '<module>', file: 'app.py', line: 30, totalBytes: 9.5 * MiB, ownBytes: 0, count: 1000, ownCount: 0 },
      { function: 'load', file: 'app.py', line: 12, totalBytes: 8 * MiB, ownBytes: 0, count: 900, ownCount: 0 },
      { function: 'parse', file: 'app.py', line: 4, totalBytes: 8 * MiB, ownBytes: 8 * MiB, count: 900, ownCount: 900 },
      { function: 'Thread.run', file: '/usr/lib/python3.12/threading.py', line: 1010, totalBytes: 3 * MiB, ownBytes: 0, count: 3, ownCount: 0 },
      { function: 'worker', file: 'app.py', line: 20, totalBytes: 3 * MiB, ownBytes: 3 * MiB, count: 3, ownCount: 3 },
      { function: 'cache', file: 'lib/very/deep/package/with/a/long/path/cache_module.py', line: 77, totalBytes: 1.5 * MiB, ownBytes: 1.5 * MiB, count: 100, ownCount: 100 },
    ],
    moreLocations: 12,
    damaged: 0,
    end: undefined,
    ...over,
  };
}

const show = (lines: readonly string[]): string => lines.map((l) => `|${l}|`).join('\n') + '\n';

// Goldens in test/fixtures/live/, between bars so trailing blanks show. UPDATE_GOLDEN=1 rewrites them
// (then review the diff).
const goldenDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'live');
function golden(name: string, lines: readonly string[]): void {
  const path = join(goldenDir, name);
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(path)) {
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(path, show(lines));
    if (process.env['UPDATE_GOLDEN'] !== '1') assert.fail(`${path} was missing: written, check it and run again`);
  }
  assert.equal(show(lines), readFileSync(path, 'utf8'));
}

test('golden: 100 × 16, running', () => {
  const lines = renderTui({ view: sampleView(), paused: false }, { width: 100, height: 16, colour: false });
  golden('tui-100x16.txt', lines);
});

test('golden: 60 × 14, paused, one thread, sorted by own, ended, with program output', () => {
  const view = sampleView({
    thread: 1,
    sort: 'own',
    shownBytes: 3 * MiB,
    locations: sampleView().locations.slice(3, 5),
    moreLocations: 0,
    end: { kind: 'exit', text: 'the target exited with status 0', exit: { type: 'exit', stream: 0xffffffff, timeNs: 1, exitCode: 0, signal: 0, oomKill: 0, detail: '' } },
  });
  const lines = renderTui({ view, paused: true, output: ['starting', 'loaded 3 files', 'done'] }, { width: 60, height: 14, colour: false });
  golden('tui-60x14.txt', lines);
});

test('golden: 40 × 8, waiting for the header', () => {
  const view = sampleView({ started: false, locations: [], threads: [], elapsedNs: 0 });
  golden('tui-40x8.txt', renderTui({ view, paused: false }, { width: 40, height: 8, colour: false }));
});

test('every size: exactly `height` lines of at most `width` columns, in colour too', () => {
  // eslint-disable-next-line no-control-regex
  const strip = (s: string): string => s.replace(/\u001b\[[0-9;]*m/g, '');
  for (const colour of [false, true]) {
    for (const width of [20, 33, 59, 60, 80, 100, 137, 200]) {
      for (const height of [1, 2, 5, 9, 14, 24, 50]) {
        for (const output of [undefined, ['a', 'b']]) {
          // What reaches the terminal: the colour markers turned into SGR sequences (util/terminal-text.ts).
          const lines = renderTui({ view: sampleView(), paused: false, output }, { width, height, colour }).map(toTerminal);
          assert.equal(lines.length, height, `${width}×${height}`);
          for (const l of lines) assert.ok([...strip(l)].length <= width, `${width}×${height}: ${JSON.stringify(strip(l))}`);
          if (colour && height >= 14)
            assert.ok(
              lines.some((l) => l.includes('\u001b[31m')),
              'the biggest share is red',
            );
          if (!colour) assert.ok(!lines.some((l) => l.includes('\u001b')), 'no escape without colour');
        }
      }
    }
  }
});

test('names from the program never reach the terminal as control characters', () => {
  const evil = '\u001b[2J\u001b]0;owned\u0007\r\n\u009b31m';
  const view = sampleView({
    command: `python3 ${evil}`,
    threads: [{ index: 0, osTid: 1, name: evil, liveBytes: 1, exited: false }],
    thread: 0,
    locations: [{ function: evil, file: evil, line: 1, totalBytes: 1, ownBytes: 1, count: 1, ownCount: 1 }],
    end: { kind: 'error', text: evil, exit: undefined },
  });
  for (const colour of [false, true]) {
    const lines = renderTui({ view, paused: false, output: [evil] }, { width: 120, height: 30, colour }).map(toTerminal);
    for (const l of lines) {
      // Only our own SGR colour sequences may remain.
      // eslint-disable-next-line no-control-regex
      const rest = l.replace(/\u001b\[[0-9;]*m/g, '');
      // eslint-disable-next-line no-control-regex
      assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(rest), JSON.stringify(l));
    }
    assert.ok(lines.join('\n').includes('\\u001b[2J'));
  }
  assert.equal(safeText('a\tb\u0000c\u007fd\ne\u202ef'), 'a\\u0009b\\u0000c\\u007fd\\u000ae\\u202ef');
});

test('keys: sort, pause, threads cycle all → 1 → … → n → all, quit', () => {
  assert.deepEqual(keysOf('toa c'), ['sort-total', 'sort-own', 'sort-count', 'pause', 'sort-count']);
  assert.deepEqual(keysOf('\u001b[C\u001b[D\u001b'), ['next-thread', 'prev-thread', 'quit']);
  assert.deepEqual(keysOf('\u001b[15~q'), ['quit'], 'F5 is not Esc');
  assert.deepEqual(keysOf('\u0003'), ['quit']);
  let s = INITIAL_UI;
  // Thread indexes in the view's order (the main thread, index 2, first).
  const press = (k: Parameters<typeof pressKey>[1], threads: readonly number[] = [2, 0, 1]): void => {
    const a = pressKey(s, k, threads);
    assert.equal(a.kind, 'redraw');
    if (a.kind === 'redraw') s = a.state;
  };
  const seen: (number | undefined)[] = [];
  for (let i = 0; i < 4; i++) {
    press('next-thread');
    seen.push(s.thread);
  }
  assert.deepEqual(seen, [2, 0, 1, undefined]);
  press('prev-thread');
  assert.equal(s.thread, 1);
  press('prev-thread');
  press('prev-thread');
  press('prev-thread');
  assert.equal(s.thread, undefined);
  press('next-thread');
  press('merge-threads');
  assert.equal(s.thread, undefined);
  press('pause');
  assert.equal(s.paused, true);
  press('pause');
  assert.equal(s.paused, false);
  press('sort-own');
  assert.equal(s.sort, 'own');
  // A thread gone from the list: the next key starts over from "all".
  s = { ...s, thread: 7 };
  press('next-thread');
  assert.equal(s.thread, 2);
  press('next-thread', []);
  assert.equal(s.thread, undefined);
  assert.deepEqual(pressKey(s, 'quit', []), { kind: 'quit' });
});
