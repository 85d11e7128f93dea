// ForensicsObserver's one list of changed sites (round thirty-one): RecentGrowth and LiveSeries handed at each
// snapshot only the sites their ticks have something to do with give the facts they give when each is told every
// change itself (as ForensicsObserver did before), and a site allocated and freed between two snapshots leaves
// the list at once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Allocator, MARKER_KINDS } from '../capture/format.js';
import type { CheckpointRecord, GcRecord, MarkerRecord } from '../capture/records.js';
import type { SiteId, ThreadIndex } from '../model/ids.js';
import { NO_ALLOCATOR, type ReplayContext } from '../model/replay-observer.js';
import { prng } from '../../test/support/prng.js';
import { type ForensicFacts, ForensicsObserver } from './forensics.js';
import { GcFrees } from './gc-frees.js';
import { LiveSeries, type LiveSeriesResult, SiteMarks } from './live-series.js';
import { ReallocGrowth } from './realloc-growth.js';
import { RecentGrowth, type RecentGrowthResult } from './recent-growth.js';

const LAST_NS = 2e8;

/** What ForensicsObserver did before round thirty-one: every change to each observer, on one SiteMarks. */
class EachTold {
  readonly marks = new SiteMarks();
  readonly recent = new RecentGrowth(LAST_NS, this.marks);
  readonly series = new LiveSeries({ marks: this.marks });
  readonly gcFrees = new GcFrees();
  readonly reallocs = new ReallocGrowth();
  stopped = false;

  begin(context: ReplayContext): void {
    this.recent.begin(context);
    this.series.begin(context);
    this.reallocs.begin(context);
  }
  change(site: SiteId, seq: number, bytes: number, count: number, thread: ThreadIndex, index: number, allocator: number): void {
    if (this.stopped) return;
    this.recent.change(site, seq, bytes, count);
    if (bytes < 0 || count < 0) this.gcFrees.change(site, seq, bytes, count);
    this.reallocs.change(site, seq, bytes, count, thread, index, allocator);
    this.series.change(site, seq, bytes, count);
  }
  snapshot(seq: number, timeNs: number): void {
    if (this.stopped) return;
    this.recent.snapshot(seq, timeNs);
    this.series.snapshot(seq, timeNs);
  }
  gc(record: GcRecord): void {
    if (!this.stopped) this.gcFrees.gc(record);
  }
  end(seq: number, timeNs: number): void {
    this.snapshot(seq, timeNs);
    this.series.stop();
    this.stopped = true;
  }
}

/** The runs as sorted text (their order may differ: each run is its own). */
function runs(r: LiveSeriesResult): string[] {
  return Array.from(r.site, (s, i) => `${s} ${r.start[i]} ${r.end[i]} ${r.bytes[i]} ${r.count[i]}`).sort();
}

function recentFacts(r: RecentGrowthResult | undefined, sites: number): unknown {
  if (r === undefined) return undefined;
  const base = (b: { baseBytes: { get(s: number): number }; baseCount: { get(s: number): number } }): number[] => Array.from({ length: sites }, (_, s) => b.baseBytes.get(s) * 1000 + b.baseCount.get(s));
  const before = r.beforeLastChange;
  return {
    lastNs: r.lastNs,
    fromNs: r.fromNs,
    toNs: r.toNs,
    baseHeap: r.baseHeap,
    base: base(r),
    lastChangeNs: r.lastChangeNs,
    changedAfterLast: r.changedAfterLast,
    before: before === undefined ? undefined : { fromNs: before.fromNs, baseHeap: before.baseHeap, base: base(before) },
  };
}

const PROGRAM_END = MARKER_KINDS.indexOf('program-end');

/**
 * A random replay of `sites` sites on two threads, with the live columns written before each change as the replay
 * writes them, to a ForensicsObserver and to EachTold. `endAt`: the snapshot at which the program ends (a
 * PROGRAM_END marker; undefined: none). `trailing`: changes after the last snapshot that all go back to 0.
 */
function play(seed: number, sites: number, snapshots: number, endAt: number | undefined, trailing: boolean): { f: ForensicFacts; e: EachTold; f2: ForensicsObserver } {
  const rand = prng(seed);
  const bytes = new Float64Array(sites);
  const count = new Int32Array(sites);
  const context = { sites: { columns: { liveBytes: { array: bytes }, liveCount: { array: count } } } } as unknown as ReplayContext;
  const f = new ForensicsObserver({ lastNs: LAST_NS });
  const e = new EachTold();
  f.begin(context);
  e.begin(context);
  const blocks: number[][] = Array.from({ length: sites }, () => []);
  const indexes = [0, 0];
  let seq = 0;
  let timeNs = 0;
  const change = (site: number, b: number, c: number, thread: number, allocator: number): void => {
    bytes[site] = bytes[site]! + b;
    count[site] = count[site]! + c;
    seq++;
    const index = c > 0 ? ++indexes[thread]! : 1;
    f.change(site as SiteId, seq, b, c, thread as ThreadIndex, index, allocator);
    e.change(site as SiteId, seq, b, c, thread as ThreadIndex, index, allocator);
  };
  const alloc = (site: number): void => {
    // Now and then a block of 0 bytes (malloc(0)): a site at 0 bytes may hold allocations.
    const size = rand() < 0.1 ? 0 : 8 + Math.floor(rand() * 200);
    blocks[site]!.push(size);
    // A reallocating allocator at a site in three, so that some of the allocations after a smaller free count.
    change(site, size, 1, site & 1, site % 3 === 0 ? Allocator.Realloc : Allocator.PymallocMalloc);
  };
  const free = (site: number): void => change(site, -blocks[site]!.pop()!, -1, site & 1, NO_ALLOCATOR);
  for (let t = 1; t <= snapshots; t++) {
    const gcStart = seq + 1;
    for (let i = 0; i < 60; i++) {
      const site = Math.floor(rand() * sites);
      if (blocks[site]!.length > 0 && rand() < 0.45) free(site);
      else alloc(site);
    }
    // Calls allocated then freed in the order they allocated (call_sites' dicts): back at 0 inside the tick.
    const chain = Array.from({ length: 1 + Math.floor(rand() * 20) }, () => Math.floor(rand() * sites));
    for (const site of chain) alloc(site);
    for (const site of chain) free(site);
    // Sites emptied: back at 0, some of them held by a tick before.
    for (let site = 0; site < sites; site++) if (rand() < 0.1) while (blocks[site]!.length > 0) free(site);
    const record: GcRecord = { type: 'gc', stream: 1, seq: seq + 1, timeNs, generation: 0, collected: 1, uncollectable: 0, durationNs: 1, startSeq: gcStart };
    f.gc(record);
    e.gc(record);
    // Snapshots 10 ms apart, and now and then 1 ms apart (RecentGrowth ticks at 2 ms apart at least: not at those).
    timeNs += rand() < 0.2 ? 1e6 : 1e7;
    if (t === endAt) {
      const marker: MarkerRecord = { type: 'marker', stream: 1, seq: seq + 1, timeNs, kind: PROGRAM_END, label: 'released' };
      f.marker(marker);
      e.end(seq + 1, timeNs);
    } else {
      f.snapshot(seq + 1, timeNs);
      e.snapshot(seq + 1, timeNs);
    }
  }
  if (trailing) {
    for (let site = 0; site < sites; site += 7) alloc(site);
    for (let site = 0; site < sites; site += 7) free(site);
  }
  return { f: f.finish(), e, f2: f };
}

function assertSameFacts(seed: number, sites: number, snapshots: number, endAt: number | undefined, trailing: boolean): void {
  const { f, e } = play(seed, sites, snapshots, endAt, trailing);
  const series = e.series.finish();
  assert.deepEqual(Array.from(f.series.tickEnd), Array.from(series.tickEnd), 'ticks');
  assert.equal(f.series.snapshotsPerTick, series.snapshotsPerTick);
  assert.deepEqual(runs(f.series), runs(series));
  assert.ok(series.site.length > 100, `${series.site.length} runs`);
  // LiveSeries coarsened (its ticks every few snapshots), RecentGrowth folded ticks into its baseline.
  assert.ok(series.snapshotsPerTick >= 2);
  assert.notEqual(f.recent?.fromNs, undefined);
  assert.deepEqual(recentFacts(f.recent, sites), recentFacts(e.recent.finish(), sites));
  assert.deepEqual(f.gcFrees, e.gcFrees.finish());
  const reallocs = e.reallocs.finish();
  assert.deepEqual(f.reallocs, reallocs);
  assert.ok(reallocs.sites.length > 0);
}

test('the facts of the one list handed over at snapshots are those of each observer told every change', () => {
  // 600 snapshots: LiveSeries coarsens (256 ticks at most) and then closes its ticks every 2^k snapshots, RecentGrowth
  // at each one 2 ms after its last: their ticks fall at different snapshots.
  assertSameFacts(3, 300, 600, undefined, false);
});

test('the same with a program end: nothing after the marker counts, and the last tick is at the marker', () => {
  assertSameFacts(5, 300, 600, 550, true);
});

test('changes after the last snapshot that all go back to 0 still close a last tick, as when each observer was told', () => {
  const { f, e } = play(7, 120, 40, undefined, true);
  const series = e.series.finish();
  assert.deepEqual(Array.from(f.series.tickEnd), Array.from(series.tickEnd));
  assert.deepEqual(runs(f.series), runs(series));
  // The last tick closes at the last snapshot's time again (the changes after it happened then or later).
  assert.equal(f.series.tickEnd.length, 41);
  assert.equal(f.recent?.changedAfterLast, true);
});

test('changes after the last snapshot at sites never held still close a last tick', () => {
  const sites = 10;
  const bytes = new Float64Array(sites);
  const count = new Int32Array(sites);
  const context = { sites: { columns: { liveBytes: { array: bytes }, liveCount: { array: count } } } } as unknown as ReplayContext;
  const f = new ForensicsObserver({ lastNs: LAST_NS });
  const e = new EachTold();
  f.begin(context);
  e.begin(context);
  let seq = 0;
  const change = (site: number, b: number, c: number): void => {
    bytes[site] = bytes[site]! + b;
    count[site] = count[site]! + c;
    f.change(site as SiteId, ++seq, b, c, 0 as ThreadIndex, 1, c > 0 ? Allocator.Malloc : NO_ALLOCATOR);
    e.change(site as SiteId, seq, b, c, 0 as ThreadIndex, 1, c > 0 ? Allocator.Malloc : NO_ALLOCATOR);
  };
  change(1, 16, 1);
  f.snapshot(++seq, 1e7);
  e.snapshot(seq, 1e7);
  // Site 2 was never listed by a tick: allocated and freed, it leaves the list, but a change came.
  change(2, 16, 1);
  change(2, -16, -1);
  const r = f.finish();
  assert.deepEqual(Array.from(r.series.tickEnd), [1e7, 1e7]);
  assert.deepEqual(Array.from(r.series.tickEnd), Array.from(e.series.finish().tickEnd));
});

test('a site allocated and freed between two snapshots leaves the list at once; one a tick holds stays listed', () => {
  const sites = 1000;
  const bytes = new Float64Array(sites);
  const count = new Int32Array(sites);
  const f = new ForensicsObserver();
  f.begin({ sites: { columns: { liveBytes: { array: bytes }, liveCount: { array: count } } } } as unknown as ReplayContext);
  let seq = 0;
  const change = (site: number, b: number, c: number): void => {
    bytes[site] = bytes[site]! + b;
    count[site] = count[site]! + c;
    f.change(site as SiteId, ++seq, b, c, 0 as ThreadIndex, 1, c > 0 ? Allocator.Malloc : NO_ALLOCATOR);
  };
  // A chain of calls, each of a site of its own, freed in the order it allocated.
  for (let site = 0; site < sites; site++) change(site, 16, 1);
  assert.equal(f.listed, sites);
  for (let site = 0; site < sites; site++) change(site, -16, -1);
  assert.equal(f.listed, 0);
  // Site 5 is live at a snapshot: the ticks hold a value for it, so going back to 0 is news to them.
  change(5, 16, 1);
  f.snapshot(++seq, 1e9);
  assert.equal(f.listed, 0);
  change(5, -16, -1);
  assert.equal(f.listed, 1);
  f.snapshot(++seq, 2e9);
  const r = f.finish();
  assert.deepEqual(runs(r.series), ['5 0 1 16 1']);
});

test('after a checkpoint, and after the program end, change() lists nothing: each observer is told, or none', () => {
  const sites = 10;
  const bytes = new Float64Array(sites);
  const count = new Int32Array(sites);
  const context = { sites: { columns: { liveBytes: { array: bytes }, liveCount: { array: count } } } } as unknown as ReplayContext;
  let seq = 0;
  const change = (f: ForensicsObserver, site: number, b: number, c: number): void => {
    bytes[site] = bytes[site]! + b;
    count[site] = count[site]! + c;
    f.change(site as SiteId, ++seq, b, c, 0 as ThreadIndex, 1, c > 0 ? Allocator.Malloc : NO_ALLOCATOR);
  };
  // An aggregated capture's first CHECKPOINT: the replay's columns are not read from then on.
  const a = new ForensicsObserver({ lastNs: LAST_NS });
  a.begin(context);
  change(a, 1, 16, 1);
  assert.equal(a.listed, 1);
  const record: CheckpointRecord = { type: 'checkpoint', stream: 1, seq: ++seq, timeNs: 1e7, heap: 16, peakHeap: 16, peakSeq: 1, entries: [] };
  a.checkpoint(record);
  assert.equal(a.listed, 0);
  change(a, 2, 16, 1);
  change(a, 3, 16, 1);
  assert.equal(a.listed, 0);
  // The program's end: nothing after it is listed (nor told).
  const p = new ForensicsObserver({ lastNs: LAST_NS });
  p.begin(context);
  change(p, 4, 16, 1);
  p.marker({ type: 'marker', stream: 1, seq: ++seq, timeNs: 1e7, kind: PROGRAM_END, label: 'released' });
  change(p, 5, 16, 1);
  change(p, 6, 8, 1);
  change(p, 6, -8, -1);
  assert.equal(p.listed, 0);
  const r = p.finish();
  assert.deepEqual(runs(r.series), ['4 0 1 16 1']);
});
