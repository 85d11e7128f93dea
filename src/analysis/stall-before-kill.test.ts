// The stall before a kill (stall-before-kill.ts): a program that allocated nothing for longer than the
// window before the OOM killer ended it gets what grew in the window before its last allocation, and the
// report says it stalled; a quiet end without a kill keeps the window at the end. Captures written with
// the encoder; a real OOM kill after a stall is test/oom/stalled-oom-kill.test.ts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AGGREGATED_HEADER, analyze, checkpointEntry, type FrameSpec, MiB, ProgramCapture, SEC } from '../../test/support/program-capture.js';
import { MARKER_KINDS } from '../capture/format.js';
import type { Verdict } from './verdict.js';

const ms = 1_000_000;
const LIMIT = 96 * MiB;
const LOAD: FrameSpec[] = [
  ['<module>', 1],
  ['load', 10],
];
const CACHE: FrameSpec[] = [
  ['<module>', 1],
  ['render_page', 20],
];
const NEAR_OOM = MARKER_KINDS.indexOf('near-oom');

function grewLines(v: Verdict['recent']): string[] {
  return (v?.lines ?? []).map((l) => `${l.function}:${l.line} ${l.bytes / MiB} MiB ${l.count}`);
}

interface Run {
  /** Seconds of snapshots after the last allocation (every 100 ms). */
  readonly quietS: number;
  readonly end: 'oom-kill' | 'exit' | 'abrupt' | 'sigterm';
  /** Cgroup usage during the quiet part. */
  readonly usage?: number;
}

/**
 * 10 MiB loaded at the start, then the cache grows 1 MiB every 100 ms for 6 s (60 MiB), then nothing is
 * allocated for `quietS` seconds while snapshots go on (usage at the limit, PSI "some" 36%), then the end.
 */
function stalled(run: Run): ProgramCapture {
  const p = new ProgramCapture();
  p.thread(1, 100, 'MainThread', 0);
  for (let i = 0; i < 10; i++) p.alloc(1, LOAD, MiB);
  let t = 0;
  for (let i = 0; i < 60; i++) {
    t += 100 * ms;
    p.alloc(1, CACHE, MiB);
    p.snapshot(t, { rss: (20 + i) * MiB, cgroupUsage: (24 + i) * MiB, cgroupLimit: LIMIT });
  }
  const lastAlloc = t;
  for (t += 100 * ms; t <= lastAlloc + run.quietS * SEC; t += 100 * ms) {
    if (Math.round((t - lastAlloc) / ms) % 1000 === 0) p.pressure(t, 3600, 1200, '/sys/fs/cgroup/memlens/memory.pressure');
    p.snapshot(t, { rss: 90 * MiB, cgroupUsage: run.usage ?? 95.5 * MiB, cgroupLimit: LIMIT });
  }
  const end = t;
  if (run.end === 'oom-kill') p.exit({ timeNs: end, signal: 9, oomKill: 1, detail: 'Memory cgroup out of memory: Killed process 4242 (python3)' });
  else if (run.end === 'sigterm') p.exit({ timeNs: end, signal: 15, oomKill: 0 });
  else if (run.end === 'exit') {
    p.trailer(end);
    p.exit({ timeNs: end, exitCode: 0 });
  }
  return p;
}

describe('a program that stalled before the OOM kill', () => {
  test('what grew is the window before its last allocation, and the stall is told with its evidence', () => {
    const v = analyze(stalled({ quietS: 30, end: 'oom-kill' }).finish(), 5 * SEC).verdict;
    const r = v.recent;
    assert.ok(r !== undefined);
    // The last allocation came before the snapshot at 6.0 s; the window is the 5 s before it.
    assert.ok(r.stall !== undefined, 'the stall is told');
    assert.equal(r.stall.lastChangeNs, 6 * SEC);
    assert.ok(Math.abs(r.stall.quietNs - 30 * SEC) < 200 * ms, `${r.stall.quietNs}`);
    assert.equal(r.stall.oomKill, true);
    assert.equal(r.stall.someAvg10Max, 3600);
    assert.equal(r.stall.fullAvg10Max, 1200);
    assert.equal(r.stall.pressureSource, '/sys/fs/cgroup/memlens/memory.pressure');
    assert.equal(r.stall.atLimitFromNs, 6.1 * SEC, 'usage at 95% of the limit from the first quiet snapshot');
    assert.equal(r.toNs, 6 * SEC);
    assert.equal(r.fromNs, SEC);
    assert.equal(r.lastNs, 5 * SEC, 'the window asked keeps its length');
    assert.deepEqual(grewLines(r), ['render_page:20 50 MiB 50']);
    assert.equal(r.heapBytes, 50 * MiB);
  });

  test('a stall longer than the whole run before it: all of the run', () => {
    const r = analyze(stalled({ quietS: 30, end: 'oom-kill' }).finish(), 10 * SEC).verdict.recent;
    assert.ok(r?.stall !== undefined);
    assert.equal(r.wholeCapture, true);
    assert.deepEqual(grewLines(r), ['render_page:20 60 MiB 60', 'load:10 10 MiB 10']);
  });

  test('a quiet part shorter than the window is no stall: the window ends at the last snapshot', () => {
    const r = analyze(stalled({ quietS: 3, end: 'oom-kill' }).finish(), 5 * SEC).verdict.recent;
    assert.ok(r !== undefined);
    assert.equal(r.stall, undefined);
    assert.equal(r.toNs, 9 * SEC);
    assert.equal(r.fromNs, 4 * SEC);
    assert.deepEqual(grewLines(r), ['render_page:20 20 MiB 20']);
  });

  test('a quiet end that is no kill at the limit keeps the window at the end: nothing grew', () => {
    for (const run of [
      { quietS: 30, end: 'exit' },
      { quietS: 30, end: 'sigterm' },
      { quietS: 30, end: 'abrupt', usage: 60 * MiB },
    ] as const) {
      const r = analyze(stalled(run).finish(), 5 * SEC).verdict.recent;
      assert.ok(r !== undefined);
      assert.equal(r.stall, undefined, run.end);
      assert.deepEqual(grewLines(r), [], run.end);
      assert.equal(r.heapBytes, 0);
    }
  });

  test('a capture cut off at the limit (no exit record) after a stall is one', () => {
    const r = analyze(stalled({ quietS: 30, end: 'abrupt' }).finish(), 5 * SEC).verdict.recent;
    assert.ok(r?.stall !== undefined);
    assert.equal(r.stall.oomKill, false);
    assert.deepEqual(grewLines(r), ['render_page:20 50 MiB 50']);
  });

  test('frees are changes too, and so is an allocation after the last snapshot', () => {
    const p = stalled({ quietS: 0, end: 'abrupt' });
    const addr = p.alloc(1, LOAD, 2 * MiB);
    const at = (i: number): number => 6 * SEC + i * 100 * ms;
    for (let i = 2; i < 140; i++) p.snapshot(at(i), { rss: 90 * MiB, cgroupUsage: 95.5 * MiB, cgroupLimit: LIMIT });
    p.free(1, addr);
    for (let i = 140; i <= 200; i++) p.snapshot(at(i), { rss: 90 * MiB, cgroupUsage: 95.5 * MiB, cgroupLimit: LIMIT });
    p.exit({ timeNs: at(200), signal: 9, oomKill: 1 });
    const r = analyze(p.finish(), 5 * SEC).verdict.recent;
    assert.ok(r?.stall !== undefined, 'quiet for 6 s after the free');
    assert.equal(r.stall.lastChangeNs, at(140));
    assert.equal(r.fromNs, at(90));
    assert.equal(r.heapBytes, -2 * MiB);
    assert.deepEqual(grewLines(r), []);

    const q = stalled({ quietS: 30, end: 'abrupt' });
    q.alloc(1, CACHE, MiB);
    assert.equal(analyze(q.finish(), 5 * SEC).verdict.recent?.stall, undefined);
  });
});

describe('aggregated captures', () => {
  /** Checkpoints every second while the cache grows 8 MiB a second for 8 s; then only snapshots, a near-OOM checkpoint without entries, and the kill. */
  function aggregated(withNearOomCheckpoint: boolean): Uint8Array {
    const p = new ProgramCapture(AGGREGATED_HEADER);
    const load = p.stack(1, LOAD);
    const cache = p.stack(1, CACHE);
    // A location first listed inside the window before the stall: not in the baseline then.
    const index = p.stack(1, [
      ['<module>', 1],
      ['index', 30],
    ]);
    for (let s = 1; s <= 8; s++) {
      const entries = s === 1 ? [checkpointEntry(load, 10 * MiB, 10), checkpointEntry(cache, 8 * MiB, 8)] : [checkpointEntry(cache, s * 8 * MiB, s * 8)];
      if (s === 7) entries.push(checkpointEntry(index, 4 * MiB, 1));
      p.checkpoint(s * SEC, 10 * MiB + s * 8 * MiB, 10 * MiB + s * 8 * MiB, entries);
      p.snapshot(s * SEC, { heap: 10 * MiB + s * 8 * MiB, cgroupUsage: (20 + s * 8) * MiB, cgroupLimit: LIMIT });
    }
    for (let t = 8.1 * SEC; t <= 40 * SEC; t += 100 * ms) {
      if (withNearOomCheckpoint && Math.abs(t - 20 * SEC) < ms) {
        p.marker(NEAR_OOM, 'cgroup memory usage 95 of limit 96', t);
        p.checkpoint(t, 74 * MiB, 74 * MiB, []);
      }
      p.snapshot(t, { heap: 74 * MiB, cgroupUsage: 95.5 * MiB, cgroupLimit: LIMIT });
    }
    p.exit({ timeNs: 40 * SEC, signal: 9, oomKill: 1 });
    return p.finish();
  }

  test('the window before the last checkpoint that listed a change, with or without an empty checkpoint after it', () => {
    for (const withNearOom of [true, false]) {
      const { verdict, model } = analyze(aggregated(withNearOom), 3 * SEC);
      assert.equal(model.aggregated, true);
      const r = verdict.recent;
      assert.ok(r?.stall !== undefined, `near-OOM checkpoint: ${withNearOom}`);
      assert.equal(r.stall.lastChangeNs, 8 * SEC);
      assert.equal(r.fromNs, 5 * SEC);
      assert.equal(r.toNs, 8 * SEC);
      assert.deepEqual(grewLines(r), ['render_page:20 24 MiB 24', 'index:30 4 MiB 1']);
    }
  });
});
