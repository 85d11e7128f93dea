// The verdict's parts on captures written with the encoder: how it ended, the peak against the limit, the
// last snapshot and the near-OOM marker, what grew in the last seconds (events and checkpoints), the RSS
// the heap does not explain, and what a capture without snapshots cannot tell.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AGGREGATED_HEADER, analyze, checkpointEntry, type FrameSpec, MiB, ProgramCapture, SEC } from '../../test/support/program-capture.js';
import { Allocator } from '../capture/format.js';
import { COLLECT_FROM_BYTES, collectNow, collectionsForced, outgrown } from '../util/outgrown.js';
import { type Verdict, verdict } from './verdict.js';

const ms = 1_000_000;
const EARLY: FrameSpec[] = [
  ['<module>', 1],
  ['load', 10],
];
const LATE: FrameSpec[] = [
  ['<module>', 1],
  ['grow', 20],
];

function grewLines(v: Verdict['recent'] | Verdict['sinceStart'] | undefined): string[] {
  return (v?.lines ?? []).map((l) => `${l.function}:${l.line} ${l.bytes / MiB} MiB ${l.count}`);
}

/** Ten seconds: load holds 10 MiB from the start and frees 1 MiB at 9.5 s; grow adds 3 MiB at 8.5 s. */
function tenSeconds(): ProgramCapture {
  const p = new ProgramCapture();
  p.thread(1, 100, 'MainThread', 0);
  let first = 0;
  for (let t = 0; t <= 10; t++) {
    if (t === 0) {
      first = p.alloc(1, EARLY, MiB);
      for (let i = 0; i < 9; i++) p.alloc(1, EARLY, MiB);
    }
    if (t === 9) p.alloc(1, LATE, 3 * MiB);
    if (t === 10) p.free(1, first);
    p.snapshot(t * SEC, { rss: (40 + t) * MiB, file: 8 * MiB, cgroupUsage: (50 + t) * MiB, cgroupLimit: 64 * MiB });
  }
  return p;
}

describe('what grew in the last seconds', () => {
  test('from the last snapshot at least --last before the end, per line and stack, net of frees', () => {
    const { verdict } = analyze(tenSeconds().finish(), 5 * SEC);
    const r = verdict.recent;
    assert.ok(r !== undefined);
    assert.equal(r.fromNs, 5 * SEC);
    assert.equal(r.toNs, 10 * SEC);
    assert.equal(r.wholeCapture, false);
    assert.equal(r.heapBytes, 2 * MiB);
    assert.deepEqual(grewLines(r), ['grow:20 3 MiB 1']); // load shrank: not among what grew
    assert.equal(r.stacks.length, 1);
    assert.deepEqual(grewLines(verdict.sinceStart), ['load:10 9 MiB 9', 'grow:20 3 MiB 1']);
  });

  test('a window longer than the capture is the whole capture', () => {
    const r = analyze(tenSeconds().finish(), 60 * SEC).verdict.recent;
    assert.ok(r !== undefined);
    assert.equal(r.wholeCapture, true);
    assert.equal(r.fromNs, undefined);
    assert.deepEqual(grewLines(r), ['load:10 9 MiB 9', 'grow:20 3 MiB 1']);
  });

  test('aggregated captures: from their checkpoints', () => {
    const p = new ProgramCapture(AGGREGATED_HEADER);
    const early = p.stack(1, EARLY);
    const late = p.stack(1, LATE);
    for (let t = 1; t <= 10; t++) {
      const entries = [checkpointEntry(early, t * MiB, t)];
      if (t >= 8) entries.push(checkpointEntry(late, (t - 7) * 2 * MiB, t - 7));
      p.checkpoint(t * SEC, t * MiB + (t >= 8 ? (t - 7) * 2 * MiB : 0), 16 * MiB, entries);
      p.snapshot(t * SEC, { heap: t * MiB });
    }
    const { verdict, model } = analyze(p.finish(), 3 * SEC);
    assert.equal(model.aggregated, true);
    const r = verdict.recent;
    assert.ok(r !== undefined);
    assert.equal(r.fromNs, 7 * SEC);
    assert.deepEqual(grewLines(r), ['grow:20 6 MiB 3', 'load:10 3 MiB 3']);
    assert.equal(r.heapBytes, 9 * MiB);
  });
});

describe('how it ended, and the moments before', () => {
  test('an OOM kill: the signal, the kernel line, the near-OOM marker, the last snapshot, peaks against the limit', () => {
    const p = tenSeconds();
    p.marker(4, 'cgroup memory usage 58 of limit 64', 8 * SEC + 5 * ms);
    p.marker(7, 'memory pressure: tasks stalled on memory 12.00% of the last 10 s', 9 * SEC);
    p.exit({ timeNs: 10 * SEC + 40 * ms, signal: 9, oomKill: 1, detail: 'Memory cgroup out of memory: Killed process 4242 (python3)' });
    const v = analyze(p.finish()).verdict;
    assert.deepEqual(
      { kind: v.ending.kind, signal: v.ending.signal, oom: v.ending.oomKill, detail: v.ending.detail, end: v.ending.endNs },
      { kind: 'signal', signal: 9, oom: 'yes', detail: 'Memory cgroup out of memory: Killed process 4242 (python3)', end: 10 * SEC + 40 * ms },
    );
    assert.deepEqual(v.nearOom, { timeNs: 8 * SEC + 5 * ms, beforeEndNs: 2 * SEC + 35 * ms, label: 'cgroup memory usage 58 of limit 64', count: 1 });
    assert.deepEqual(v.pressure, { timeNs: 9 * SEC, beforeEndNs: SEC + 40 * ms, label: 'memory pressure: tasks stalled on memory 12.00% of the last 10 s', count: 1 });
    assert.equal(v.last?.timeNs, 10 * SEC);
    assert.equal(v.last?.beforeEndNs, 40 * ms);
    assert.equal(v.last?.cgroupUsage, 60 * MiB);
    assert.equal(v.peak.limit, 64 * MiB);
    assert.deepEqual(v.peak.rss, { bytes: 50 * MiB, timeNs: 10 * SEC });
    assert.deepEqual(v.peak.cgroup, { bytes: 60 * MiB, timeNs: 10 * SEC });
    assert.equal(v.peak.heap.bytes, 13 * MiB);
    assert.equal(v.peak.heap.timeNs, 9 * SEC); // the first snapshot after the peak's event (at 9 s)
  });

  test('each ending kind', () => {
    const mk = (f: (p: ProgramCapture) => void): Verdict['ending'] => {
      const p = tenSeconds();
      f(p);
      return analyze(p.finish()).verdict.ending;
    };
    const exited = mk((p) => {
      p.trailer(10 * SEC);
      p.exit({ timeNs: 10 * SEC, exitCode: 3 });
    });
    assert.deepEqual([exited.kind, exited.exitCode, exited.oomKill, exited.trailerReason], ['exited', 3, 'no', 'exit']);
    const term = mk((p) => p.exit({ timeNs: 10 * SEC, signal: 15, oomKill: 0 }));
    assert.deepEqual([term.kind, term.signal, term.oomKill], ['signal', 15, 'no']);
    const unknown = mk((p) => p.exit({ timeNs: 10 * SEC, signal: 9, oomKill: 2, detail: 'SIGKILL; the kernel log and the cgroup could not be read' }));
    assert.deepEqual([unknown.kind, unknown.oomKill], ['signal', 'unknown']);
    const stopped = mk((p) => p.trailer(10 * SEC));
    assert.deepEqual([stopped.kind, stopped.oomKill, stopped.trailerReason, stopped.stopReason, stopped.wentOn], ['stopped', undefined, 'exit', 'exit', false]);
    const detached = mk((p) => p.trailer(10 * SEC, 2));
    assert.deepEqual([detached.kind, detached.stopReason, detached.wentOn, detached.stopNs], ['stopped', 'detach', true, 10 * SEC]);
    // An older agent wrote reason 1 for every stop (detach and --duration too): it is not read as an exit.
    const older = mk((p) => p.trailer(10 * SEC, 1));
    assert.deepEqual([older.kind, older.trailerReason, older.stopReason, older.wentOn], ['stopped', 'stopped', 'unknown', false]);
    const oom = mk((p) => p.exit({ timeNs: 10 * SEC, signal: 9, oomKill: 1 }));
    assert.deepEqual([oom.kind, oom.stopReason], ['signal', 'oom-kill']);
    const programThenExit = mk((p) => {
      p.trailer(5 * SEC, 8);
      p.exit({ timeNs: 10 * SEC, exitCode: 0 });
    });
    assert.deepEqual([programThenExit.kind, programThenExit.stopReason, programThenExit.stopNs], ['exited', 'program', 5 * SEC]);
    const abrupt = mk(() => undefined);
    assert.deepEqual([abrupt.kind, abrupt.oomKill, abrupt.endNs], ['abrupt', undefined, 10 * SEC]);
  });
});

test('RSS the heap does not explain, at the highest RSS: file-backed, anonymous beyond the heap, swap', () => {
  const p = new ProgramCapture();
  p.alloc(1, EARLY, 20 * MiB);
  p.snapshot(SEC, { rss: 50 * MiB, file: 12 * MiB, shmem: 2 * MiB, swap: 3 * MiB });
  p.snapshot(2 * SEC, { rss: 40 * MiB, file: 12 * MiB });
  const u = analyze(p.finish()).verdict.unexplained;
  assert.deepEqual(u, {
    timeNs: SEC,
    rss: 50 * MiB,
    rssAnon: 36 * MiB,
    heap: 20 * MiB,
    fileBacked: 12 * MiB,
    shmem: 2 * MiB,
    anonBeyondHeap: 16 * MiB,
    heapNotResident: 0,
    swap: 3 * MiB,
    pythonAllocatorsTraced: false,
    pythonAllocator: 'pymalloc',
  });
});

test('a line of the program adds up every stack through it, and says how many', () => {
  // numpy's `np.ones(n) * i` on CPython 3.14+: the product's arrays at the line itself, ones's 16-byte shape
  // buffers one frame deeper (kept in numpy's cache, then lent to the products). The line's count is both,
  // its largest stack's the arrays alone.
  const p = new ProgramCapture();
  const line: FrameSpec[] = [
    ['<module>', 1],
    ['load_partition', 12],
  ];
  const deeper: FrameSpec[] = [...line, ['ones', 232, '/usr/lib/python3.12/site-packages/numpy/_core/numeric.py']];
  for (let i = 0; i < 12; i++) p.alloc(1, line, 8 * MiB);
  for (let i = 0; i < 9; i++) p.alloc(1, deeper, 16);
  p.snapshot(SEC);
  const g = analyze(p.finish()).verdict.sinceStart;
  assert.deepEqual(
    g.lines.map((l) => [l.function, l.line, l.bytes, l.count, l.stacks]),
    [['load_partition', 12, 96 * MiB + 144, 21, 2]],
  );
  assert.deepEqual(
    g.stacks.map((s) => [s.bytes, s.count]),
    [
      [96 * MiB, 12],
      [144, 9],
    ],
  );
});

test('the heap beyond what was resident: mappings at the peak, and the most the heap exceeded anonymous RSS', () => {
  // OpenBLAS's buffers: two 32 MiB mappings made while numpy is imported, barely touched; then 80 MiB of
  // arrays that are written. The heap (144 MiB) is above the 128 MiB limit, anonymous RSS never is.
  const p = new ProgramCapture();
  const importing: FrameSpec[] = [
    ['<module>', 3],
    ['<module>', 11, '/usr/lib/python3.12/site-packages/numpy/_core/multiarray.py'],
  ];
  p.alloc(1, importing, 32 * MiB, Allocator.Mmap);
  p.alloc(1, importing, 32 * MiB, Allocator.Mmap);
  p.snapshot(SEC, { rss: 20 * MiB, file: 12 * MiB, cgroupUsage: 10 * MiB, cgroupLimit: 128 * MiB });
  for (let i = 0; i < 10; i++) p.alloc(1, EARLY, 8 * MiB);
  p.snapshot(2 * SEC, { rss: 100 * MiB, file: 12 * MiB, cgroupUsage: 100 * MiB, cgroupLimit: 128 * MiB });
  const v = analyze(p.finish()).verdict;
  assert.equal(v.peak.heap.bytes, 144 * MiB);
  const r = v.peak.residence;
  assert.equal(r.mappedAtPeak, 64 * MiB);
  assert.deepEqual([r.mappedLine?.function, r.mappedLine?.line, r.mappedLine?.bytes, r.mappedLine?.via?.file], ['<module>', 3, 64 * MiB, '/usr/lib/python3.12/site-packages/numpy/_core/multiarray.py']);
  // At 1 s: heap 64 MiB, anonymous 8 MiB; at 2 s: heap 144 MiB, anonymous 88 MiB. The most: 56 MiB, at 1 s
  // (the later one ties; the first is kept).
  assert.deepEqual(r.notResident, { bytes: 56 * MiB, timeNs: SEC });
  // Nothing mapped, and a heap always within anonymous RSS: nothing to say.
  const q = new ProgramCapture();
  q.alloc(1, EARLY, 8 * MiB);
  q.snapshot(SEC, { rss: 30 * MiB, file: 12 * MiB });
  assert.deepEqual(analyze(q.finish()).verdict.peak.residence, { mappedAtPeak: 0, mappedLine: undefined, notResident: undefined });
});

test('mapped at the peak: the sites of mmap and mremap with bytes live at the peak, not those of malloc or mapped after it', () => {
  const p = new ProgramCapture();
  const mapAt = (line: number): FrameSpec[] => [['<module>', line]];
  p.alloc(1, mapAt(3), 4 * MiB, Allocator.Mmap);
  p.alloc(1, mapAt(4), 8 * MiB, Allocator.Mremap);
  p.alloc(1, mapAt(5), 16 * MiB, Allocator.Malloc);
  p.snapshot(SEC);
  // The peak, then a mapping made after it (live at the end, not at the peak).
  p.free(1, p.alloc(1, mapAt(6), 64 * MiB, Allocator.Malloc));
  p.alloc(1, mapAt(7), 2 * MiB, Allocator.Mmap);
  p.snapshot(2 * SEC);
  const v = analyze(p.finish()).verdict;
  assert.equal(v.peak.heap.bytes, 92 * MiB);
  assert.equal(v.peak.residence.mappedAtPeak, 12 * MiB);
  assert.deepEqual([v.peak.residence.mappedLine?.line, v.peak.residence.mappedLine?.bytes], [4, 8 * MiB]);
});

test('a capture without snapshots says what it cannot tell, and the rest still works', () => {
  const p = new ProgramCapture();
  p.alloc(1, EARLY, 5 * MiB);
  const v = analyze(p.finish()).verdict;
  assert.equal(v.last, undefined);
  assert.equal(v.recent, undefined);
  assert.equal(v.unexplained, undefined);
  assert.equal(v.peak.rss, undefined);
  assert.equal(v.peak.heap.bytes, 5 * MiB);
  assert.equal(v.ending.kind, 'abrupt');
  assert.match(v.cannotTell.join('\n'), /no memory snapshots: RSS, the cgroup usage and limit, what grew in the last seconds and whether memory accumulated over time are unknown/);
  assert.deepEqual(grewLines(v.sinceStart), ['load:10 5 MiB 1']);
});

test('threads: seen, started, ended, alive at the end, at most at once', () => {
  const p = new ProgramCapture();
  p.thread(1, 100, 'MainThread', 0);
  p.thread(2, 101, 'a', 10);
  p.thread(3, 102, 'b', 20);
  p.threadExit(2, 30);
  p.thread(4, 103, 'c', 40);
  p.free(1, p.alloc(1, EARLY, 10));
  p.snapshot(SEC);
  const t = analyze(p.finish()).verdict.threads;
  assert.deepEqual([t.seen, t.started, t.ended, t.aliveAtEnd, t.maxAlive, t.replacements], [4, 3, 1, 3, 3, 1]);
});

test('the collector’s settings over the run: disabled spans, frozen objects, thresholds', () => {
  const p = new ProgramCapture();
  p.gcState(0, true);
  p.gcState(SEC, false);
  p.gcState(2 * SEC, true, 0);
  p.gcState(3 * SEC, true, 500);
  p.gcState(4 * SEC, false, 500);
  p.free(1, p.alloc(1, EARLY, 10));
  p.snapshot(5 * SEC);
  const s = analyze(p.finish()).verdict.gc.settings;
  assert.deepEqual(s.disabled, [
    { fromNs: SEC, toNs: 2 * SEC },
    { fromNs: 4 * SEC, toNs: undefined },
  ]);
  assert.deepEqual([s.enabledAtEnd, s.frozenAtEnd, s.maxFrozen, s.thresholds], [false, 500, 500, [700, 10, 10]]);
});

test("what grew names the program's own line first, with the library frame that allocated beside it", () => {
  const p = new ProgramCapture();
  const numpy: FrameSpec[] = [
    ['<module>', 1],
    ['load_partition', 7],
    ['ones', 233, '/usr/lib/python3.12/site-packages/numpy/_core/numeric.py'],
  ];
  p.alloc(1, numpy, 8 * MiB);
  p.alloc(1, numpy, 8 * MiB);
  p.alloc(
    1,
    [
      ['<module>', 1],
      ['plain', 9],
    ],
    MiB,
  );
  p.snapshot(SEC);
  const { verdict: v } = analyze(p.finish());
  assert.deepEqual(
    v.sinceStart.lines.map((l) => [l.function, l.line, l.via?.function, l.bytes]),
    [
      ['load_partition', 7, 'ones', 16 * MiB],
      ['plain', 9, undefined, MiB],
    ],
  );
});

test("what grew ranks the program's lines by what it made, not by what a library's import under them made", () => {
  // numpy 2.3's `import numpy` (the program's line 3): OpenBLAS maps 32 MiB buffers in multiarray's top level and
  // in blas_fpe_check, a function numpy's __init__ calls; the program's own growth (16 MiB) still comes first.
  const p = new ProgramCapture();
  const NUMPY = '/usr/lib/python3.12/site-packages/numpy';
  p.alloc(
    1,
    [
      ['<module>', 3],
      ['<module>', 11, `${NUMPY}/_core/multiarray.py`],
    ],
    32 * MiB,
  );
  p.alloc(
    1,
    [
      ['<module>', 3],
      ['<module>', 890, `${NUMPY}/__init__.py`],
      ['blas_fpe_check', 881, `${NUMPY}/__init__.py`],
    ],
    32 * MiB,
  );
  p.alloc(1, [['<module>', 3]], 64); // the line's own bytes
  const load: FrameSpec[] = [
    ['<module>', 9],
    ['load_partition', 7],
    ['ones', 233, `${NUMPY}/_core/numeric.py`],
  ];
  p.alloc(1, load, 8 * MiB);
  p.alloc(1, load, 8 * MiB);
  p.snapshot(SEC);
  const { verdict: v } = analyze(p.finish());
  assert.deepEqual(
    v.sinceStart.lines.map((l) => [l.function, l.line, l.bytes]),
    [
      ['load_partition', 7, 16 * MiB],
      ['<module>', 3, 64 * MiB + 64],
    ],
  );
});

describe('libraries loaded after the start', () => {
  const image = (p: ProgramCapture, path: string): void => {
    p.w.meta({ type: 'image', stream: 0, seq: p.seq + 1, loadBias: 0x7f0000000000, path, buildId: new Uint8Array(), segments: [{ vaddr: 0, memsz: 4096, prot: 5, fileOffset: 0 }] });
  };

  test('an attach starts them too; what the first scan wrote before it is not one', () => {
    const p = new ProgramCapture({ mode: 2 });
    image(p, '/lib/x86_64-linux-gnu/libc.so.6');
    p.marker(3, '', 0);
    p.alloc(1, EARLY, MiB);
    p.snapshot(SEC, { rss: 30 * MiB });
    p.alloc(1, EARLY, MiB);
    image(p, '/srv/venv/lib/python3.12/site-packages/lxml/etree.cpython-312-x86_64-linux-gnu.so');
    p.alloc(1, EARLY, MiB);
    const v = analyze(p.finish()).verdict;
    // No snapshot after it: placed after the one before, with no growth to tell.
    assert.deepEqual(
      v.loadedAfterStart.map((l) => [l.libraries.map((x) => x.path.slice(x.path.lastIndexOf('/') + 1)), l.afterNs, l.byNs, l.anonGrowth, l.heapGrowth]),
      [[['etree.cpython-312-x86_64-linux-gnu.so'], SEC, undefined, undefined, undefined]],
    );
  });

  test('without a start marker (an agent that wrote none) no image counts as loaded later', () => {
    const p = new ProgramCapture();
    image(p, '/lib/x86_64-linux-gnu/libc.so.6');
    p.alloc(1, EARLY, MiB);
    image(p, '/usr/lib/python3.12/lib-dynload/_json.cpython-312-x86_64-linux-gnu.so');
    p.snapshot(SEC, { rss: 30 * MiB });
    assert.deepEqual(analyze(p.finish()).verdict.loadedAfterStart, []);
  });
});

test('what the verdict made for every site is collected before it returns, not left beside what the report makes next', () => {
  // 20 bytes a site (the model at the program's end, the findings' index of lines) and 8 a Python node: a
  // collection once COLLECT_FROM_BYTES were made (outgrown.ts), here with all but a byte of them said already.
  // call_sites: 40 MiB of them beside the growth since the start (docs/benchmarks.md, round twenty-six).
  const { model, facts } = analyze(tenSeconds().finish(), 5 * SEC);
  collectNow(); // nothing pending
  outgrown(COLLECT_FROM_BYTES - 1);
  const before = collectionsForced();
  verdict(model, facts);
  assert.equal(collectionsForced(), before + 1);
});
