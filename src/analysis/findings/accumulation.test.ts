// Fires on memory that climbs and is never freed, with its rate, its share of the limit, when the limit
// is reached, the program's own line and the census's type; silent on a plateau and on a sawtooth.
// Captures are written with the encoder.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kinds, MAIN, ms, only, run } from '../../../test/support/findings.js';
import { AGGREGATED_HEADER, analyze, type FrameSpec, MiB, ProgramCapture, SEC } from '../../../test/support/program-capture.js';
import { Allocator } from '../../capture/format.js';
import type { CheckpointEntry } from '../../capture/records.js';
import { ACCUMULATION_MAX_STEP_SHARE, ACCUMULATION_STEP_RATE, candidateLines } from './accumulation.js';
import type { DetectorInput, LineCandidates } from './finding.js';
import type { LineGroup } from './line-groups.js';
import type { FrameId, SiteId } from '../../model/ids.js';
import { retainedGrowth } from './retained-growth.js';

const NUMPY = '/usr/lib/python3.12/site-packages/numpy/_core/numeric.py';
const keep: FrameSpec[] = [MAIN, ['main', 10], ['load_partition', 7], ['ones', 233, NUMPY]];
const LIMIT = 256 * MiB;

/** 1 MiB kept every 100 ms from 0.5 s to `seconds`, under a 256 MiB limit, usage 64 MiB + the heap. */
function climbing(seconds: number, header = {}): ProgramCapture {
  const p = new ProgramCapture(header);
  p.thread(1, 100, 'MainThread', 0);
  let held = 0;
  for (let t = 0; t <= seconds * SEC; t += 100 * ms) {
    if (t >= 500 * ms) {
      p.alloc(1, keep, MiB);
      held += MiB;
    }
    p.snapshot(t, { cgroupUsage: 64 * MiB + held, cgroupLimit: LIMIT });
  }
  return p;
}

describe('memory that accumulated', () => {
  test('fires with the own line, the library frame, the rate, the share of the limit, and the OOM kill', () => {
    const p = climbing(3);
    p.exit({ timeNs: 3 * SEC + 50 * ms, signal: 9, oomKill: 1 });
    const { verdict, model } = analyze(p.finish());
    const f = only(verdict.findings, 'accumulation');
    assert.deepEqual(kinds(verdict.findings), ['accumulation']); // not also "large objects kept": one cause, one finding
    const item = f.items[0]!;
    assert.equal(model.frames.frame(item.line as never).function, 'load_partition');
    assert.equal(model.frames.frame(item.leaf!).function, 'ones');
    assert.deepEqual([item.bytes, item.count, item.made], [26 * MiB, 26, 26]);
    assert.deepEqual([item.growth.fromNs, item.growth.toNs, item.growth.bytes], [0.4 * SEC, 3 * SEC, 26 * MiB]);
    assert.equal(item.bytesPerSecond, (26 * MiB) / 2.6);
    assert.equal(item.shareOfLimit, 26 / 256);
    assert.equal(item.limitInNs, 0);
    assert.ok(f.oomKilled);
    assert.equal(f.limit, LIMIT);
    assert.equal(item.arenas, false);
  });

  test('still running: when, at this rate, usage reaches the limit', () => {
    const p = climbing(3);
    p.trailer(3 * SEC);
    const f = only(analyze(p.finish()).verdict.findings, 'accumulation');
    const item = f.items[0]!;
    assert.deepEqual(f.usage, { bytes: 64 * MiB + 26 * MiB, timeNs: 3 * SEC, what: 'cgroup' });
    assert.ok(!f.oomKilled);
    // (256 - 90) MiB left at 10 MiB/s.
    assert.ok(Math.abs(item.limitInNs! - 16.6 * SEC) < 1000, `${item.limitInNs}`);
  });

  test('silent on a plateau: the memory grew once, early, then stayed', () => {
    const p = new ProgramCapture();
    run(p, 3, (t) => {
      if (t <= 300 * ms) for (let i = 0; i < 8; i++) p.alloc(1, keep, MiB);
      p.free(1, p.alloc(1, [MAIN, ['main', 10], ['work', 40]], 64 * 1024));
    });
    assert.deepEqual(
      kinds(analyze(p.finish()).verdict.findings).filter((k) => k === 'accumulation' || k === 'growing-collection'),
      [],
    );
  });

  // A leak that stops because the program moves on to other work (its requests handled, it builds a
  // report, then exits): 1 MiB kept every 100 ms for 1 s, then `work` allocates and frees until the end.
  function leakThenWork(seconds: number): ProgramCapture {
    const p = new ProgramCapture();
    run(p, seconds, (t) => {
      if (t > 0 && t <= SEC) p.alloc(1, keep, MiB);
      else if (t > SEC) p.free(1, p.alloc(1, [MAIN, ['main', 12], ['report', 50]], 2 * MiB));
    });
    return p;
  }

  test('fires on a leak that stopped when the program went on to other work, as long as that work took up to twice the climb', () => {
    // Climbed 0 to 1 s, held 1.5 s: on the whole run's halves the climb would all be in the first one.
    const item = only(analyze(leakThenWork(2.5).finish()).verdict.findings, 'accumulation').items[0]!;
    assert.deepEqual([item.growth.fromNs, item.growth.lastRiseNs, item.growth.toNs, item.growth.bytes], [0, SEC, 2.5 * SEC, 10 * MiB]);
    assert.equal(item.growth.rises, 10);
  });

  test('a process that ran on after the capture (a detach) must still be climbing: a warm-up, then a hold, is a plateau', () => {
    // The same leak-then-work shape cut by a detach instead of ending with the program's exit.
    const cut = (seconds: number): string[] => {
      const p = leakThenWork(seconds);
      p.trailer(seconds * SEC, 2); // detach
      return kinds(analyze(p.finish()).verdict.findings).filter((k) => k === 'accumulation');
    };
    assert.deepEqual(cut(2.5), []);
    assert.deepEqual(cut(1.4), ['accumulation']);
  });

  test('silent when the climb is followed by a hold more than twice as long: a load, then work on it', () => {
    assert.deepEqual(
      kinds(analyze(leakThenWork(3.5).finish()).verdict.findings).filter((k) => k === 'accumulation'),
      [],
    );
  });

  /** 1 MiB kept at each of `steps` (ms), snapshots at each of them; `big` MiB more just before `bigAt`. */
  function stepped(steps: readonly number[], big: number, bigAt: number): ProgramCapture {
    const p = new ProgramCapture();
    p.snapshot(0);
    for (const t of steps) {
      p.alloc(1, keep, MiB);
      if (t === bigAt) p.alloc(1, keep, big * MiB);
      p.snapshot(t * ms);
    }
    return p;
  }

  test('a late snapshot is not a step: the rise it holds is large because its interval is long', () => {
    // Snapshots every 100 ms but one, 500 ms late: its interval holds 7 of 12 MiB, over half of the climb's time.
    const item = only(analyze(stepped([100, 200, 300, 800, 900, 1000], 6, 800).finish()).verdict.findings, 'accumulation').items[0]!;
    assert.equal(item.growth.largestRiseShare, 7 / 12);
  });

  /**
   * examples/leaky_service.py as a busy machine once captured it (the capture's own times, in ms): 50 KB kept
   * 300 times between the snapshots at 6 and 51 ms (none came between: the agent's service thread was not
   * scheduled), 101 times more by 62 ms, then held to the program's end at 145 ms, snapshots every 10 ms.
   * `burst` entries are kept instead when given, all before the snapshot at 51 ms.
   */
  function lateSnapshotBurst(burst?: number): ProgramCapture {
    const p = new ProgramCapture();
    const at = (msTime: number): number => Math.round(msTime * 1000) * 1000;
    p.snapshot(at(0.6));
    p.snapshot(at(5.9));
    for (let i = 0; i < (burst ?? 300); i++) p.alloc(1, keep, 50_000);
    p.snapshot(at(50.8));
    for (let i = 0; i < (burst === undefined ? 101 : 0); i++) p.alloc(1, keep, 50_000);
    for (const t of [61.7, 73.9, 80.9, 90.9, 100.9, 110.9, 121.4, 131.3, 140.9, 145.2]) {
      p.free(1, p.alloc(1, [MAIN, ['main', 12], ['collect_results', 31]], 4096));
      p.snapshot(at(t));
    }
    return p;
  }

  test('fires on a burst kept in an interval a late snapshot made long: it stands for the snapshots that did not come', () => {
    const item = only(analyze(lateSnapshotBurst().finish()).verdict.findings, 'accumulation').items[0]!;
    assert.deepEqual([item.growth.rises, item.growth.pacedRises, item.growth.bytes], [2, 5, 401 * 50_000]);
  });

  /**
   * examples/leaky_service.py on CPython 3.12 with --trace-python-allocators, from a real capture (times and
   * memlens's own time in ms, the line's live bytes at each snapshot): its threads kept 20 MB by 31 ms, then
   * collect_results made 300 000 small ints, and recording them was most of what the program's thread did
   * until its end at 115 ms. In wall time that hold was 2.8 times the climb.
   */
  function tracedHold(withOwn: boolean): ProgramCapture {
    const st = [0.89, 1.04, 11.11, 21.1, 31.13, 41.11, 51.09, 61.09, 71.19, 81.1, 91.75, 103.73, 111.09];
    const own = [0, 0, 0.17, 0.38, 3.5, 10.67, 17.71, 24.35, 32.39, 38.62, 64.11, 82.46, 86.65];
    const live = [0, 0, 5853861, 14459537, 20031648];
    const p = new ProgramCapture();
    const ns = (msTime: number): number => Math.round(msTime * 1000) * 1000;
    let held = 0;
    st.forEach((t, k) => {
      const want = live[Math.min(k, live.length - 1)]!;
      if (want > held) p.alloc(1, keep, want - held);
      held = Math.max(held, want);
      if (k >= live.length) p.free(1, p.alloc(1, [MAIN, ['main', 12], ['collect_results', 31]], 4096));
      p.snapshot(ns(t), withOwn ? { ownNs: ns(own[k]!) } : {});
    });
    p.exit({ timeNs: ns(115.05), exitCode: 0 });
    return p;
  }

  test("fires on a leak whose hold was mostly memlens's own recording: measured on the program's clock without it", () => {
    const item = only(analyze(tracedHold(true).finish()).verdict.findings, 'accumulation').items[0]!;
    assert.equal(item.growth.bytes, 20031648);
    assert.deepEqual([item.growth.fromNs, item.growth.lastRiseNs], [1.04e6, 31.13e6], 'real times, as the samples were');
    // Without the own times (an agent before them), on wall time: no finding.
    assert.deepEqual(
      kinds(analyze(tracedHold(false).finish()).verdict.findings).filter((k) => k === 'accumulation'),
      [],
    );
  });

  /**
   * examples/leaky_service.py on CPython 3.9 beside three busy loops (load 10, 2026-12-05), from a real
   * capture (its snapshots' times in ms, entries of 50 KB kept by each): the 8 threads, let go at once at the
   * GIL, kept 212 of the 401 entries (53% of 20 MB) between the snapshots at 52 and 62 ms, 16% of a 62 ms
   * climb. `big` instead keeps those 212 entries' bytes as one allocation: a load amid small rises.
   */
  function burstAtTheGil(big = false): ProgramCapture {
    const p = new ProgramCapture();
    const ns = (msTime: number): number => Math.round(msTime * 1000) * 1000;
    const kept = [0, 40, 10, 50, 29, 212, 60];
    [0.41, 12.19, 22.25, 39.3, 42.24, 52.23, 62.23, 72.23, 82.22, 92.23, 102.23, 105.71].forEach((t, k) => {
      const n = kept[k] ?? 0;
      if (big && n === 212) p.alloc(1, keep, n * 50_033);
      else for (let i = 0; i < n; i++) p.alloc(1, keep, 50_033);
      if (k >= kept.length) p.free(1, p.alloc(1, [MAIN, ['main', 12], ['collect_results', 31]], 4096));
      p.snapshot(ns(t));
    });
    p.exit({ timeNs: ns(118), exitCode: 0 });
    return p;
  }

  test('fires on a burst of the same entries kept all along: its allocations are no bigger than the rest of the climb', () => {
    const item = only(analyze(burstAtTheGil().finish()).verdict.findings, 'accumulation').items[0]!;
    assert.equal(item.growth.bytes, 401 * 50_033);
    // Over half of what was kept, in an interval that spans a sixth of the climb (as a load would), but of
    // allocations the size of the others.
    const climb = retainedGrowth([0.41, 12.19, 22.25, 39.3, 42.24, 52.23, 62.23], [0, 40, 50, 100, 129, 341, 401], Infinity, undefined, [0, 40, 50, 100, 129, 341, 401]);
    assert.ok(climb!.largestRiseShare > ACCUMULATION_MAX_STEP_SHARE && climb!.largestRiseShare > ACCUMULATION_STEP_RATE * climb!.largestRiseTimeShare);
    assert.equal(climb!.largestRiseSizeRatio, 1);
    // The same bytes in one allocation are a load: silent.
    assert.deepEqual(
      kinds(analyze(burstAtTheGil(true).finish()).verdict.findings).filter((k) => k === 'accumulation'),
      [],
    );
  });

  test('silent on one load that fell in a single late interval', () => {
    const found = analyze(lateSnapshotBurst(400).finish()).verdict.findings;
    assert.deepEqual(
      kinds(found).filter((k) => k === 'accumulation'),
      [],
    );
  });

  test('silent on one load amid a few small rises: most of it came in one short interval', () => {
    const found = analyze(stepped([100, 200, 300, 400, 500, 600], 12, 400).finish()).verdict.findings;
    assert.deepEqual(
      kinds(found).filter((k) => k === 'accumulation'),
      [],
    );
  });

  test('silent on a batch that frees each round, even when the process dies in the middle of one', () => {
    const p = new ProgramCapture();
    const batch: FrameSpec[] = [MAIN, ['main', 10], ['process_batch', 22]];
    let round: number[] = [];
    run(p, 4, (t) => {
      // A round every 500 ms: five 4 MiB buffers held, then all freed.
      if ((t / (100 * ms)) % 5 === 4) {
        for (const a of round) p.free(1, a);
        round = [];
      } else round.push(p.alloc(1, batch, 4 * MiB));
    });
    p.exit({ timeNs: 4 * SEC + 20 * ms, signal: 9, oomKill: 1 });
    assert.deepEqual(kinds(analyze(p.finish()).verdict.findings), []);
  });

  test('a slow leak inside a sawtooth fires: each round leaves some behind', () => {
    const p = new ProgramCapture();
    const batch: FrameSpec[] = [MAIN, ['main', 10], ['process_batch', 22]];
    let round: number[] = [];
    run(p, 4, (t) => {
      if ((t / (100 * ms)) % 5 === 4) {
        for (const a of round) p.free(1, a);
        round = [];
        p.alloc(1, batch, 2 * MiB); // kept
      } else round.push(p.alloc(1, batch, 4 * MiB));
    });
    const item = only(analyze(p.finish()).verdict.findings, 'accumulation').items[0]!;
    // Eight rounds left 2 MiB each; the round the capture ends in holds 4 MiB, live at the end too.
    assert.equal(item.growth.bytes, 8 * 2 * MiB + 4 * MiB);
  });

  test('steps every 5 s in an aggregated capture of 20 s, from its checkpoints', () => {
    const p = new ProgramCapture({ ...AGGREGATED_HEADER, mode: 2 });
    const session: FrameSpec[] = [MAIN, ['serve', 30], ['handle', 9], ['Session.__init__', 6]];
    const stack = p.stack(1, session);
    const STEP = 238 * 51_200; // 11.6 MiB: 238 sessions of 50 KiB
    const entry = (live: number): CheckpointEntry => ({
      stream: 1,
      stack,
      nativeStack: 0,
      allocator: Allocator.Malloc,
      totalCount: live / 51200,
      totalBytes: live,
      liveCount: live / 51200,
      liveBytes: live,
      savedPeakCount: 0,
      savedPeakBytes: 0,
      updatedSeq: 1,
    });
    for (let t = 1; t <= 20; t++) {
      const live = Math.floor((t + 2) / 5) * STEP; // steps at 3, 8, 13 and 18 s
      p.checkpoint(t * SEC, live, live, [entry(live)]);
      p.snapshot(t * SEC, { heap: live });
    }
    p.trailer(20 * SEC);
    const { verdict, model } = analyze(p.finish());
    const f = only(verdict.findings, 'accumulation');
    const item = f.items[0]!;
    assert.equal(model.frames.frame(item.line as never).function, 'Session.__init__');
    assert.equal(item.growth.bytes, 4 * STEP);
    assert.equal(item.growth.rises, 4);
    assert.equal(item.growth.fromNs, 2 * SEC);
    assert.ok(Math.abs(item.bytesPerSecond - (4 * STEP) / 18) < 1);
    assert.equal(f.limit, undefined);
  });

  test('the census names the type that holds about as much', () => {
    const p = climbing(3);
    const types = [
      { type: 'numpy.ndarray', count: 24, bytes: 24 * MiB + 2400 },
      { type: 'str', count: 9000, bytes: 900_000 },
    ];
    p.census(
      2.4 * SEC,
      'near-oom',
      JSON.stringify({
        kind: 'census',
        time: 1,
        pause_ms: 50,
        partial: false,
        tracked_objects: 9024,
        untracked_objects: 0,
        total_count: 9024,
        total_bytes: 26 * MiB,
        types,
        type_count: 2,
        largest_objects: [],
      }),
    );
    const f = only(analyze(p.finish()).verdict.findings, 'accumulation');
    assert.deepEqual(f.census, { timeNs: 2.4 * SEC, label: 'near-oom' });
    assert.deepEqual(f.items[0]!.heldAs, { type: 'numpy.ndarray', count: 24, bytes: 24 * MiB + 2400, share: (24 * MiB + 2400) / (26 * MiB) });
  });

  test("pymalloc's arenas are said to be arenas (small objects charged to whichever line needed one)", () => {
    const p = new ProgramCapture();
    run(p, 2, (t) => {
      if (t >= 100 * ms) p.alloc(1, [MAIN, ['remember', 12]], MiB, Allocator.Mmap);
    });
    assert.ok(only(analyze(p.finish()).verdict.findings, 'accumulation').items[0]!.arenas);
  });

  test('silent without snapshots: nothing places the events in time', () => {
    const p = new ProgramCapture();
    for (let i = 0; i < 40; i++) p.alloc(1, keep, MiB);
    assert.deepEqual(
      kinds(analyze(p.finish()).verdict.findings).filter((k) => k === 'accumulation'),
      [],
    );
  });
});

describe('the candidate lines, made once for both climb detectors', () => {
  const group = (line: number): LineGroup => ({ line: line as FrameId, leaf: undefined, sites: [line as SiteId], frames: [], liveBytes: MiB, liveCount: 1, madeCount: 1, madeBytes: MiB });
  const series = (v: number) => ({ timeNs: new Float64Array([1]), bytes: new Float64Array([v]), count: new Float64Array([1]) });
  const all: LineCandidates = { groups: [group(7), group(8), group(9)], series: [series(70), series(80), series(90)] };

  test('a claimed line is left out, and every line left keeps its own series', () => {
    let made = 0;
    const input = {
      lineCandidates: () => {
        made++;
        return all;
      },
      claimed: new Set([8 as FrameId]),
    } as unknown as DetectorInput;
    const { groups, series: s } = candidateLines(input);
    assert.deepEqual(
      groups.map((g) => g.line),
      [7, 9],
    );
    assert.deepEqual(
      s.map((x) => x.bytes[0]),
      [70, 90],
    );
    candidateLines(input);
    assert.equal(made, 2); // candidateLines asks the input each time: the input (findings()) is what makes them once
    assert.equal(all.groups.length, 3); // the shared candidates are not changed by a detector's filter
  });
});
