// The verdict's text where two of its figures can seem to disagree: a line's row against its largest stack's
// (a line adds up every stack through it), and the tracked heap or RSS above the limit that killed the
// process (the heap counts what was allocated, touched or not; RSS counts library pages charged elsewhere).
// Captures written with the encoder; the real processes are in test/oom/verdict-figures.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyze, type FrameSpec, MiB, ProgramCapture, SEC } from '../../test/support/program-capture.js';
import { Allocator } from '../capture/format.js';
import { renderVerdict, verdictJson, verdictPanel } from './verdict.js';

const LINE: FrameSpec[] = [
  ['<module>', 1],
  ['load_partition', 12],
];
const NUMPY = '/usr/lib/python3.12/site-packages/numpy/_core/';

/** The text with wrapped sentences joined (their next lines are indented by 4) and spaces squeezed. */
function text(bytes: Uint8Array): string {
  const a = analyze(bytes);
  return renderVerdict(a.model, a.verdict, { width: 200 })
    .replace(/\n {4}(?=\S)/g, ' ')
    .replace(/ +/g, ' ');
}

test("a line's row that adds up several stacks says how many, and why its count can pass its largest stack's", () => {
  // numpy's `np.ones(n) * i` on CPython 3.14+ (docs/reports.md): 12 arrays at the line, 9 shape buffers of
  // 16 bytes one frame deeper. The line: +21 allocations; its largest stack: +12, for the same 96.0 MiB.
  const p = new ProgramCapture();
  for (let i = 0; i < 12; i++) p.alloc(1, LINE, 8 * MiB);
  for (let i = 0; i < 9; i++) p.alloc(1, [...LINE, ['ones', 232, `${NUMPY}numeric.py`]], 16);
  p.snapshot(SEC, { rss: 120 * MiB });
  p.trailer(SEC);
  const bytes = p.finish();
  const t = text(bytes);
  // What grew in the last seconds (all of this capture), signed.
  assert.match(t, /Growth Allocations Stacks By line of the program\n[─ ]+\n \+96\.0 MiB \+21 2 load_partition at job\.py:12\n/);
  assert.match(t, /Growth Allocations By stack \(outermost → innermost\)\n[─ ]+\n \+96\.0 MiB \+12 <module> \(job\.py:1\) → load_partition \(:12\)\n \+144 B \+9 /);
  assert.match(t, /A line's row adds up every stack through it \(Stacks: how many, those that shrank included\); the stack table shows one stack per row/);
  const a = analyze(bytes);
  const j = verdictJson(a.model, a.verdict) as { live_at_end: { lines: { count: number; stacks: number }[] } };
  assert.deepEqual([j.live_at_end.lines[0]?.count, j.live_at_end.lines[0]?.stacks], [21, 2]);

  // One stack per line: no column, no sentence.
  const q = new ProgramCapture();
  q.alloc(1, LINE, 8 * MiB);
  q.snapshot(SEC);
  q.trailer(SEC);
  const u = text(q.finish());
  assert.match(u, /Growth Allocations By line of the program\n/);
  assert.doesNotMatch(u, /Stacks/);
});

/** numpy imported (`mappings` 32 MiB OpenBLAS mappings, barely touched), then 80 MiB of arrays, under 128 MiB. */
function openBlasJob(mappings = 2): Uint8Array {
  const p = new ProgramCapture();
  const importing: FrameSpec[] = [
    ['<module>', 3],
    ['<module>', 11, `${NUMPY}multiarray.py`],
  ];
  for (let i = 0; i < mappings; i++) p.alloc(1, importing, 32 * MiB, Allocator.Mmap);
  p.snapshot(SEC, { rss: 20 * MiB, file: 12 * MiB, cgroupUsage: 10 * MiB, cgroupLimit: 128 * MiB });
  for (let i = 0; i < 10; i++) p.alloc(1, LINE, 8 * MiB);
  // RSS 140 MiB: 126 MiB anonymous (the arrays, the interpreter) and 14 MiB of library pages the cgroup was
  // not charged for; usage at the limit.
  p.snapshot(2 * SEC, { rss: 140 * MiB, file: 14 * MiB, cgroupUsage: 128 * MiB, cgroupLimit: 128 * MiB });
  p.exit({ timeNs: 2.1 * SEC, signal: 9, oomKill: 1 });
  return p.finish();
}

test('a heap and an RSS above the limit that killed the process say why', () => {
  const t = text(openBlasJob());
  assert.match(t, /tracked heap 144 MiB 112\.5% /);
  assert.match(t, /RSS 140 MiB 109\.4% /);
  assert.match(
    t,
    /The tracked heap counts memory when it is allocated, RSS and the limit only the pages written: its peak is above the limit because part of it was never resident \(not touched, or swapped out\)\. At the peak 64\.0 MiB of it were mappings made with mmap, all of them by <module> at job\.py:3 \(in <module>, multiarray\.py:11\): a mapping holds memory only in the pages written/,
  );
  assert.match(t, /At 1\.000 s the heap was 56\.0 MiB more than anonymous RSS: at least that much of it held no memory then\./);
  assert.match(t, /RSS is above the limit \(at 2\.000 s: anonymous 126 MiB, file-backed 14\.0 MiB\): at least 12\.0 MiB of the pages it counts were charged to another cgroup/);
  // The heap explains at most the anonymous RSS: the file-backed pages are the rest of it.
  assert.match(t, /RSS 140 MiB: the tracked heap explains 126 MiB; 14\.0 MiB more is:/);
  const a = analyze(openBlasJob());
  const j = verdictJson(a.model, a.verdict) as { peak: Record<string, unknown> };
  assert.equal(j.peak['heap_mapped_at_peak'], 64 * MiB);
  assert.deepEqual(j.peak['heap_not_resident'], { bytes: 56 * MiB, time_ns: SEC, after_time: false });
  assert.match(String(j.peak['beyond_limit']), /^The tracked heap counts memory when it is allocated/);
});

test('what an import made is said under the lines only where it changed their order', () => {
  // Two mappings (64 MiB) under `import numpy`, 80 MiB of arrays: the arrays' line comes first either way.
  const same = text(openBlasJob(2));
  assert.match(same, /\+80\.0 MiB \+10 load_partition at job\.py:12\n \+64\.0 MiB \+2 <module> at job\.py:3 \(in <module>, multiarray\.py:11\)\n/);
  assert.doesNotMatch(same, /Lines rank by what the program made/);
  // Three (96 MiB): by bytes the import's line would come first; the arrays' line does, and the text says why.
  const moved = text(openBlasJob(3));
  assert.match(moved, /\+80\.0 MiB \+10 load_partition at job\.py:12\n \+96\.0 MiB \+3 <module> at job\.py:3 \(in <module>, multiarray\.py:11\)\n/);
  assert.match(moved, /Lines rank by what the program made, not by what a library made while it was imported .*: 96\.0 MiB of <module> at job\.py:3\./);
});

test('a heap within the limit and the peak RSS says nothing of it', () => {
  const p = new ProgramCapture();
  for (let i = 0; i < 4; i++) p.alloc(1, LINE, 8 * MiB);
  p.snapshot(SEC, { rss: 60 * MiB, file: 12 * MiB, cgroupUsage: 60 * MiB, cgroupLimit: 128 * MiB });
  const t = text(p.finish());
  assert.doesNotMatch(t, /counts memory when it is allocated|RSS is above the limit/);
  assert.match(t, /RSS 60\.0 MiB: the tracked heap explains 32\.0 MiB; 28\.0 MiB more is:/);
});

/** An IMAGE record as the agent writes one (service stream, the next event's seq). */
function image(p: ProgramCapture, path: string, loadBias: number, size: number): void {
  p.w.meta({ type: 'image', stream: 0, seq: p.seq + 1, loadBias, path, buildId: new Uint8Array([1, 2]), segments: [{ vaddr: 0, memsz: size, prot: 5, fileOffset: 0 }] });
}

const VENV = '/srv/venv/lib/python3.12/site-packages/';

/** libc at the start; numpy (and OpenBLAS) imported at 0.2 s, _json after the last snapshot. */
function lateLoadJob(): Uint8Array {
  const p = new ProgramCapture();
  image(p, '/lib/x86_64-linux-gnu/libc.so.6', 0x7f0000000000, 2 * MiB);
  p.marker(1, '', 0);
  p.snapshot(0.1 * SEC, { rss: 20 * MiB, file: 10 * MiB });
  p.alloc(1, LINE, 8 * MiB);
  // Taken with no event between it and the IMAGE records, possibly while numpy was loading: the interval
  // starts at the snapshot before it.
  p.snapshot(0.2 * SEC, { rss: 30 * MiB, file: 12 * MiB });
  image(p, `${VENV}numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so`, 0x7f1000000000, 10 * MiB);
  image(p, `${VENV}numpy/_core/../../numpy.libs/libscipy_openblas64_-fdde5778.so`, 0x7f2000000000, 24 * MiB);
  image(p, '/lib/x86_64-linux-gnu/libz.so.1', 0x7f3000000000, 120 * 1024);
  p.alloc(1, LINE, 2 * MiB);
  p.snapshot(0.3 * SEC, { rss: 72 * MiB, file: 14 * MiB });
  // No event since the last snapshot either: the load is placed after the one before it.
  image(p, '/usr/lib/python3.12/lib-dynload/_json.cpython-312-x86_64-linux-gnu.so', 0x7f4000000000, 64 * 1024);
  p.trailer(0.4 * SEC);
  return p.finish();
}

test('the libraries loaded after the start are named, with the snapshots around them and what grew between', () => {
  const t = text(lateLoadJob());
  assert.match(
    t,
    /\n Loaded after the start: between 0\.100 s and 0\.300 s: _multiarray_umath\.cpython-312-x86_64-linux-gnu\.so, libscipy_openblas64_-fdde5778\.so \(numpy\); libz\.so\.1; over that interval anonymous RSS \+48\.0 MiB, file-backed \+4\.00\n MiB, tracked heap \+10\.0 MiB\. after 0\.200 s: _json\.cpython-312-x86_64-linux-gnu\.so \(the standard library\)\. Libraries can map and allocate memory while they load, before memlens sees their calls/,
  );
  // libc was there at the start (before the marker): not a late load.
  assert.doesNotMatch(t.slice(t.indexOf('Loaded after the start'), t.indexOf('Libraries can map')), /libc\.so\.6/);
  const a = analyze(lateLoadJob());
  const j = verdictJson(a.model, a.verdict) as {
    loaded_after_start: {
      after_ns: number | null;
      by_ns: number | null;
      anon_rss_growth: number | null;
      heap_growth: number | null;
      libraries: { path: string; package: string | null; bytes: number }[];
    }[];
  };
  assert.deepEqual(
    j.loaded_after_start.map((l) => [l.after_ns, l.by_ns, l.anon_rss_growth, l.heap_growth, l.libraries.map((x) => [x.path.slice(x.path.lastIndexOf('/') + 1), x.package, x.bytes])]),
    [
      [
        0.1 * SEC,
        0.3 * SEC,
        48 * MiB,
        10 * MiB,
        [
          ['_multiarray_umath.cpython-312-x86_64-linux-gnu.so', 'numpy', 10 * MiB],
          ['libscipy_openblas64_-fdde5778.so', 'numpy', 24 * MiB],
          ['libz.so.1', null, 120 * 1024],
        ],
      ],
      [0.2 * SEC, null, null, null, [['_json.cpython-312-x86_64-linux-gnu.so', 'the standard library', 64 * 1024]]],
    ],
  );

  // Every image loaded before the start: no line, and no key in the JSON (its output is as it was).
  const p = new ProgramCapture();
  image(p, '/lib/x86_64-linux-gnu/libc.so.6', 0x7f0000000000, 2 * MiB);
  p.marker(1, '', 0);
  p.alloc(1, LINE, 8 * MiB);
  p.snapshot(SEC, { rss: 30 * MiB });
  const bytes = p.finish();
  assert.doesNotMatch(text(bytes), /Loaded after the start/);
  const b = analyze(bytes);
  assert.ok(!('loaded_after_start' in verdictJson(b.model, b.verdict)));
});

interface StallShape {
  /** PSI "some" and "full" (hundredths of a percent), and the file they came from. */
  readonly some: number;
  readonly full?: number;
  readonly source?: string;
  /** RSS and cgroup usage during the stall, MiB. */
  readonly rss?: number;
  readonly usage?: number;
  readonly exitNs?: number;
  readonly detail?: string;
}

/** 60 MiB in 6 s at the line, then 30 s of snapshots without an allocation under this pressure, and the OOM kill. */
function stalledCapture(st: StallShape): Uint8Array {
  const p = new ProgramCapture();
  const limit = 96 * MiB;
  for (let i = 1; i <= 60; i++) {
    p.alloc(1, LINE, MiB);
    p.snapshot(i * 100_000_000, { rss: (20 + i) * MiB, cgroupUsage: (24 + i) * MiB, cgroupLimit: limit });
  }
  for (let i = 61; i <= 360; i++) {
    if (i % 10 === 0) p.pressure(i * 100_000_000, st.some, st.full ?? 0, st.source ?? '/proc/pressure/memory');
    p.snapshot(i * 100_000_000, { rss: (st.rss ?? 70) * MiB, cgroupUsage: (st.usage ?? 80) * MiB, cgroupLimit: limit });
  }
  p.exit({ timeNs: st.exitNs ?? 36 * SEC, signal: 9, oomKill: 1, ...(st.detail !== undefined ? { detail: st.detail } : {}) });
  return p.finish();
}

test('a stall without pressure or usage at the limit says what the capture holds, no more', () => {
  const a = analyze(stalledCapture({ some: 0 }), 5 * SEC);
  const t = renderVerdict(a.model, a.verdict, { width: 200 })
    .replace(/\n {4}(?=\S)/g, ' ')
    .replace(/ +/g, ' ');
  assert.match(t, /it stalled \(no memory pressure: no task waited for memory in the kernel's figures, from \/proc\/pressure\/memory\)\. The window/);
  const b = analyze(stalledCapture({ some: 1500 }), 5 * SEC);
  const u = renderVerdict(b.model, b.verdict, { width: 200 })
    .replace(/\n {4}(?=\S)/g, ' ')
    .replace(/ +/g, ' ');
  // "full" at 0: not said; usage below 95% of the limit: not said.
  assert.match(u, /it stalled \(memory pressure: some task stalled waiting for memory up to 15% of 10 s, from \/proc\/pressure\/memory\)\. The window/);
});

test('a program that stalled before the OOM kill: the window before its last allocation, and the stall told, in text and JSON', () => {
  // 30 s without an allocation, at the limit, under pressure.
  const bytes = stalledCapture({
    some: 3600,
    full: 1250,
    source: '/sys/fs/cgroup/memlens-1/memory.pressure',
    rss: 90,
    usage: 95.5,
    exitNs: 36 * SEC + 20_000_000,
    detail: 'Memory cgroup out of memory: Killed process 4242 (python3)',
  });
  const a = analyze(bytes, 5 * SEC);
  const t = renderVerdict(a.model, a.verdict, { width: 200 })
    .replace(/\n {4}(?=\S)/g, ' ')
    .replace(/ +/g, ' ');
  assert.match(t, /What grew in the last 5 s before the program stalled: from 1\.000 s to 6\.000 s\n/);
  assert.match(
    t,
    / The program allocated and freed nothing in its last 30\.0 s before the OOM kill \(nothing after 6\.000 s\), while memory snapshots went on: it stalled \(usage at 95% of the limit or more from 6\.100 s on; memory pressure: some task stalled waiting for memory up to 36% of 10 s \(all tasks at once: 12%\), from \/sys\/fs\/cgroup\/memlens-1\/memory\.pressure\)\. The window ends at its last allocation or free: nothing grew in the last 5 s before the end\.\n Tracked heap \+50\.0 MiB\./,
  );
  assert.match(t, /\+50\.0 MiB \+50 load_partition at job\.py:12\n/);
  const j = verdictJson(a.model, a.verdict) as { recent_growth: { from_ns: number; to_ns: number; last_ns: number; stall: Record<string, unknown> | null; lines: { line: number; bytes: number }[] } };
  const g = j.recent_growth;
  assert.deepEqual([g.from_ns, g.to_ns, g.last_ns, g.lines[0]?.line, g.lines[0]?.bytes], [SEC, 6 * SEC, 5 * SEC, 12, 50 * MiB]);
  assert.deepEqual(g.stall, {
    last_change_ns: 6 * SEC,
    quiet_ns: 30 * SEC + 20_000_000,
    oom_kill: true,
    pressure_some_avg10_max: 36,
    pressure_full_avg10_max: 12.5,
    pressure_source: '/sys/fs/cgroup/memlens-1/memory.pressure',
    at_limit_from_ns: 6.1 * SEC,
  });
  // The HTML report's verdict panel: the stall as a fact, and the table's title says which window it is.
  const panel = verdictPanel(a.model, a.verdict);
  assert.equal(panel.growthTitle, 'What grew before the program stalled (from 1.000 s to 6.000 s; nothing allocated in the last 30.0 s), by line of the program');
  assert.match(panel.facts.find(([k]) => k === 'Stalled')?.[1] ?? '', /^The program allocated and freed nothing in its last 30\.0 s before the OOM kill/);
  assert.equal(panel.growth[0]?.bytes, '+50.0 MiB');
});
