// The heap replay's per-site columns that only some reports need.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { Allocator, Deallocator } from '../capture/format.js';
import { HeapReplay } from './heap-replay.js';
import type { NativeNodeId1, PyNodeId1, SiteId, ThreadIndex } from './ids.js';
import { NO_ALLOCATOR, type ReplayObserver } from './replay-observer.js';
import { SiteTable } from './site-table.js';

/** 5,000 sites, each one allocation freed right after (malloc then free, thread 0). */
function replayWith(temporaryThreshold: number | undefined): SiteTable {
  const sites = new SiteTable();
  const replay = new HeapReplay(sites, { observer: undefined, temporaryThreshold, window: undefined });
  let seq = 0;
  for (let i = 0; i < 5000; i++) {
    const site = sites.intern((i + 1) as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0);
    replay.eventAddress[0] = 0x10000 + i * 64;
    replay.allocAt(site, 0 as ThreadIndex, seq++, 32, 0);
    replay.freeAt(seq++, 32, 0);
  }
  replay.totals(true, 0);
  return sites;
}

test('the temporary-allocation columns are made only when the replay counts them', () => {
  const without = replayWith(undefined);
  assert.equal(without.columns.tempCount.byteLength + without.columns.tempBytes.byteLength + without.columns.updatedSeq.byteLength, 0);
  const counted = replayWith(1);
  assert.equal(counted.columns.tempCount.array[4999], 1);
  assert.equal(counted.columns.tempBytes.array[0], 32);
  assert.equal(counted.columns.updatedSeq.byteLength, 0);
});

test("the peak marks (4 bytes) start over before the epoch passes 2^31, and a site's value at the peak stays", () => {
  const sites = new SiteTable();
  const replay = new HeapReplay(sites, { observer: undefined, temporaryThreshold: undefined, window: undefined });
  const a = sites.intern(1 as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0);
  const b = sites.intern(2 as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0);
  // As after 2^31 - 2 new peaks (too many events for a test).
  (replay as unknown as { epoch: number }).epoch = 0x7fffffff - 1;
  let seq = 0;
  const alloc = (site: typeof a, address: number, size: number): void => {
    replay.eventAddress[0] = address;
    replay.allocAt(site, 0 as ThreadIndex, seq++, size, 0);
  };
  alloc(a, 0x1000, 100); // a new peak: 100
  alloc(b, 0x2000, 50); // a new peak: 150, a at 100 and b at 50
  replay.eventAddress[0] = 0x1000;
  replay.freeAt(seq++, 100, 0); // a's value at the peak saved
  alloc(a, 0x3000, 10); // a changes again: its saved value stays
  const totals = replay.totals(true, 0);
  assert.equal(totals.peakHeap, 150);
  assert.deepEqual([sites.peak.bytes(a), sites.peak.bytes(b), sites.peak.count(a)], [100, 50, 1]);
  assert.deepEqual([sites.columns.liveBytes.array[a], sites.columns.liveBytes.array[b]], [10, 50]);
});

/** A replay with an observer that records every change() call, and what a plain model of the same events says. */
function recordingReplay(temporaryThreshold: number | undefined = undefined) {
  const sites = new SiteTable();
  const changes: number[][] = [];
  const observer: ReplayObserver = {
    change: (site, seq, bytes, count, thread, index) => void changes.push([site, seq, bytes, count, thread, index]),
    snapshot: () => undefined,
  };
  const replay = new HeapReplay(sites, { observer, temporaryThreshold, window: undefined });
  // Sites of two threads: a free's observer call names its site's thread.
  const siteIds = [0, 1, 2, 3].map((i) => sites.intern((i + 1) as PyNodeId1, 0 as NativeNodeId1, (i & 1) as ThreadIndex, 0));
  const model = { heap: 0, frees: 0, unknown: 0, temporary: [0, 0, 0, 0], live: new Map<number, [number, number, number, number]>(), changes: [] as number[][] };
  const perThread = [0, 0];
  let seq = 0;
  const alloc = (address: number, size: number, k: number, allocator = 0): void => {
    const site = siteIds[k & 3]!;
    const thread = k & 1;
    const index = ++perThread[thread]!;
    replay.eventAddress[0] = address;
    replay.allocAt(site, thread as ThreadIndex, seq, size, allocator);
    model.live.set(address, [site, size, thread, index]);
    model.heap += size;
    model.changes.push([site, seq++, size, 1, thread, index]);
  };
  const free = (address: number, deallocator = 0): void => {
    replay.eventAddress[0] = address;
    replay.freeAt(seq, 0, deallocator);
    const e = model.live.get(address);
    if (e === undefined) model.unknown++;
    else {
      model.live.delete(address);
      model.heap -= e[1];
      model.frees++;
      model.changes.push([e[0], seq, -e[1], -1, e[2], e[3]]);
      if (temporaryThreshold !== undefined && perThread[e[2]]! - e[3] <= temporaryThreshold) model.temporary[siteIds.indexOf(e[0] as SiteId)]!++;
    }
    seq++;
  };
  return { sites, replay, changes, model, alloc, free };
}

test('a run of FREEs past the threshold is held back, then applied in order: the same calls, sums and anomalies', () => {
  const r = recordingReplay(5);
  for (let i = 0; i < 12_000; i++) r.alloc(0x100000 + i * 48, 16 + (i % 7) * 8, i);
  r.alloc(0x7000000, 4096, 1, Allocator.TracemallocTrack);
  const allocCalls = r.changes.length;
  // 11,000 frees in a row (past the threshold, and past the most held at once), with addresses never live
  // and one address freed twice.
  for (let i = 0; i < 11_000; i++) {
    r.free(0x100000 + ((i * 7919) % 12_000) * 48);
    if (i % 1000 === 7) r.free(0x40 + i * 8);
    if (i === 6000) r.free(0x100000 + ((5999 * 7919) % 12_000) * 48);
    if (i === 5000) r.free(0x7000000, Deallocator.TracemallocUntrack); // applied after the frees held before it
  }
  // The run's frees past the threshold are held back: the observer has heard of fewer than all of them.
  assert.ok(r.changes.length - allocCalls < r.model.changes.length - allocCalls);
  // Asking the heap applies them first.
  assert.equal(r.replay.heap, r.model.heap);
  assert.deepEqual(r.changes, r.model.changes);
  const totals = r.replay.totals(true, 0);
  assert.deepEqual([r.replay.frees, r.replay.unknownFrees, totals.endHeap, totals.endLiveCount], [r.model.frees, r.model.unknown, r.model.heap, r.model.live.size]);
  // The last allocations made are temporary ones (freed within 5 of their thread's allocations): their frees were held back.
  assert.deepEqual(
    [0, 1, 2, 3].map((s) => r.sites.columns.tempCount.array[s]),
    r.model.temporary,
  );
  assert.ok(r.model.temporary.some((n) => n > 0));
});

test('a run of FREEs ended by an ALLOC: the held frees come first, then the allocation, and the peak stays', () => {
  const r = recordingReplay();
  for (let i = 0; i < 9000; i++) r.alloc(0x200000 + i * 32, 100, i);
  for (let i = 0; i < 6000; i++) r.free(0x200000 + i * 32);
  // The ALLOC ends the run (and takes an address freed in it): the replay applies the held frees before it.
  r.alloc(0x200000 + 5999 * 32, 64, 2);
  for (let i = 0; i < 5000; i++) r.free(0x200000 + (i + 6000 >= 9000 ? i - 3000 : i + 6000) * 32);
  r.alloc(0x900000, 8, 3);
  assert.deepEqual(r.changes, r.model.changes);
  const totals = r.replay.totals(true, 0);
  assert.deepEqual([totals.peakHeap, totals.maxHeap, totals.endHeap, r.replay.frees, r.replay.unknownFrees], [900_000, 900_000, r.model.heap, r.model.frees, r.model.unknown]);
  assert.deepEqual(
    [0, 1, 2, 3].map((s) => r.sites.peak.bytes(s as SiteId)),
    [225 * 1000, 225 * 1000, 225 * 1000, 225 * 1000],
  );
});

test("a run of FREEs at the capture's end: totals() applies the held frees", () => {
  const r = recordingReplay();
  for (let i = 0; i < 10_000; i++) r.alloc(0x300000 + i * 16, 8, i);
  for (let i = 9999; i >= 0; i--) r.free(0x300000 + i * 16);
  const totals = r.replay.totals(true, 0);
  assert.deepEqual([totals.endHeap, totals.endLiveCount, r.replay.frees], [0, 0, 10_000]);
  assert.deepEqual(r.changes, r.model.changes);
  assert.deepEqual(
    [0, 1, 2, 3].map((s) => r.sites.columns.liveBytes.array[s]),
    [0, 0, 0, 0],
  );
});

test("a site first freed late in a long run of FREEs does not deoptimize the held frees' loop", () => {
  // rolling_window's end (docs/benchmarks.md, round twenty-three): the program frees its live allocations in
  // one run, all at a site whose peak value was saved before the run. flushFrees() is compiled during the run
  // with no feedback for saving a site's peak value; a site first freed late in the run then deoptimized it
  // ("Insufficient type feedback"), for a third compile at the read's largest moment.
  setFlagsFromString('--allow-natives-syntax');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- %GetOptimizationStatus is the point
  const status = new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;
  const sites = new SiteTable();
  const replay = new HeapReplay(sites, { observer: undefined, temporaryThreshold: undefined, window: undefined });
  const a = sites.intern(1 as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0);
  const b = sites.intern(2 as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0);
  const n = 300_000;
  let seq = 0;
  replay.eventAddress[0] = 0x10;
  replay.allocAt(b, 0 as ThreadIndex, seq++, 64, 0);
  for (let i = 0; i < n; i++) {
    replay.eventAddress[0] = 0x100000 + i * 32;
    replay.allocAt(a, 0 as ThreadIndex, seq++, 24, 0);
  }
  // The run: a's first free saves its peak value before any batch is held; then only a's.
  for (let i = 0; i < n; i++) {
    replay.eventAddress[0] = 0x100000 + i * 32;
    replay.freeAt(seq++, 0, 0);
  }
  const flushFrees = (HeapReplay.prototype as unknown as Record<string, unknown>)['flushFrees'];
  // 16: V8's OptimizationStatus bit for optimized code.
  assert.notEqual(status(flushFrees) & 16, 0, 'flushFrees was not optimized by the run');
  replay.eventAddress[0] = 0x10;
  replay.freeAt(seq, 0, 0);
  assert.equal(replay.heap, 0); // applies the held frees, b's last
  assert.notEqual(status(flushFrees) & 16, 0, "flushFrees was deoptimized by b's first free");
  replay.totals(true, 0); // the values at the peak are the table's from totals() (site-peaks.ts)
  assert.deepEqual([sites.peak.bytes(a), sites.peak.bytes(b)], [24 * n, 64]);
});

/**
 * The same events into a replay of its own (`limit`: its int32CountLimit; `sampling` set before the first event,
 * or after `lateSampling` allocations): 50 sites, malloc allocations and frees, a run of FREEs past FREE_RUN
 * (flushFrees()), mmaps and munmaps (countAlloc(), release()). Returns the table and what was seen of its counts.
 */
function countsReplay(limit: number | undefined, sampling?: { rateBytes: number; exactBytes: number }, lateSampling = -1) {
  const sites = new SiteTable();
  const replay = new HeapReplay(sites, { observer: undefined, temporaryThreshold: undefined, window: undefined, int32CountLimit: limit });
  if (lateSampling < 0) replay.sampling = sampling;
  const int32At: boolean[] = [];
  let seq = 0;
  let n = 0;
  const alloc = (address: number, size: number, k: number, allocator = 0): void => {
    if (n++ === lateSampling) replay.sampling = sampling;
    const site = sites.intern(((k % 50) + 1) as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0);
    replay.eventAddress[0] = address;
    replay.allocAt(site, 0 as ThreadIndex, seq++, size, allocator);
    int32At.push(sites.countsAreInt32);
  };
  const free = (address: number, deallocator = 0): void => {
    replay.eventAddress[0] = address;
    replay.freeAt(seq++, 0, deallocator);
  };
  for (let i = 0; i < 3000; i++) {
    alloc(0x100000 + i * 64, 16 + (i % 7) * 8, i);
    if (i % 3 === 0) free(0x100000 + (i - 3) * 64);
  }
  alloc(0x40000000, 1 << 20, 7, Allocator.Mmap);
  for (let i = 0; i < 6000; i++) free(0x100000 + i * 64); // past FREE_RUN: held back and flushed
  alloc(0x50000000, 1 << 21, 9, Allocator.Mmap);
  free(0x40000000 + 4096, Deallocator.Munmap);
  for (let i = 0; i < 500; i++) alloc(0x200000 + i * 64, 40, i * 3);
  const totals = replay.totals(true, 0);
  const c = sites.columns;
  const column = (a: ArrayLike<number>): number[] => Array.from({ length: sites.size }, (_, s) => a[s]!);
  return {
    sites,
    int32At,
    figures: { allocations: totals.allocations, peakHeap: totals.peakHeap, endLiveCount: totals.endLiveCount },
    columns: [
      column(c.totalCount.array),
      column(c.liveCount.array),
      Array.from({ length: sites.size }, (_, s) => sites.peak.count(s as SiteId)),
      column(c.totalBytes.array),
      column(c.liveBytes.array),
      Array.from({ length: sites.size }, (_, s) => sites.peak.bytes(s as SiteId)),
    ],
  };
}

test("an unsampled capture's counts are Int32 until the allocations pass the limit, then Float64, and equal a Float64 table's", () => {
  const float64 = countsReplay(0); // widened at the first allocation, before any count
  assert.equal(float64.int32At[0], false);
  const int32 = countsReplay(undefined); // 2^31 - 1: never widened
  assert.ok(int32.int32At.every((x) => x) && int32.sites.columns.liveCount.array instanceof Int32Array);
  const widened = countsReplay(1000);
  // Exact up to 1000 allocations in Int32; the 1001st widens the three (the mmap path, countAlloc(), as well).
  assert.deepEqual([widened.int32At[999], widened.int32At[1000], widened.int32At.at(-1)], [true, false, false]);
  for (const c of ['totalCount', 'liveCount'] as const) assert.ok(widened.sites.columns[c].array instanceof Float64Array, c);
  const past = countsReplay(3001); // widened at the second mmap (countAlloc())
  assert.deepEqual([past.int32At[3000], past.int32At[3001]], [true, false]);
  assert.ok(float64.columns[0]!.some((x) => x > 1) && float64.columns[2]!.some((x) => x > 0));
  for (const r of [int32, widened, past]) {
    assert.deepEqual(r.columns, float64.columns);
    assert.deepEqual(r.figures, float64.figures);
  }
});

test("a sampled capture's counts are Float64 (sums of weights), and a sampling known late widens Int32 ones", () => {
  const sampling = { rateBytes: 4096, exactBytes: Infinity };
  const sampled = countsReplay(undefined, sampling);
  assert.ok(sampled.int32At.every((x) => !x));
  assert.ok(sampled.columns[0]!.some((x) => !Number.isInteger(x)));
  const late = countsReplay(undefined, sampling, 10);
  assert.deepEqual([late.int32At[9], late.int32At[10]], [true, false]);
  assert.ok(late.columns[1]!.some((x) => !Number.isInteger(x)));
});

test("a free's thread for the observer: the one thread while one allocated, then each site's own; an allocation's allocator (a malloc, a track, a run held back)", () => {
  const sites = new SiteTable();
  const calls: number[][] = [];
  const observer: ReplayObserver = {
    change: (site, _seq, bytes, count, thread, _index, allocator) => void calls.push([site, bytes, count, thread, allocator]),
    snapshot: () => undefined,
  };
  const replay = new HeapReplay(sites, { observer, temporaryThreshold: undefined, window: undefined });
  // Sites of thread 3 (the only one at first), then of thread 1 (its first allocation by a track) and thread 70 (past
  // the per-thread counts' first length).
  const of = (thread: number, k: number, allocator: number): SiteId => sites.intern((k + 1) as PyNodeId1, 0 as NativeNodeId1, thread as ThreadIndex, allocator);
  const expected: number[][] = [];
  let seq = 0;
  const live = new Map<number, [SiteId, number]>();
  const alloc = (address: number, size: number, thread: number, k: number, allocator = 0): void => {
    const site = of(thread, k, allocator);
    replay.eventAddress[0] = address;
    replay.allocAt(site, thread as ThreadIndex, seq++, size, allocator);
    live.set(address, [site, size]);
    expected.push([site, size, 1, thread, sites.allocator(site)]);
  };
  const free = (address: number, deallocator = 0): void => {
    replay.eventAddress[0] = address;
    replay.freeAt(seq++, 0, deallocator);
    const [site, size] = live.get(address)!;
    live.delete(address);
    expected.push([site, -size, -1, sites.thread(site), NO_ALLOCATOR]);
  };
  for (let i = 0; i < 6000; i++) alloc(0x100000 + i * 32, 16, 3, i % 5, i % 3 === 0 ? Allocator.Realloc : Allocator.Malloc);
  for (let i = 0; i < 5000; i++) free(0x100000 + i * 32); // past FREE_RUN: held back, then flushed
  alloc(0x7000000, 4096, 1, 0, Allocator.TracemallocTrack); // thread 1's first allocation: not by allocAt()'s own path
  for (let i = 5000; i < 5500; i++) free(0x100000 + i * 32);
  free(0x7000000, Deallocator.TracemallocUntrack);
  for (let i = 0; i < 100; i++) {
    alloc(0x200000 + i * 32, 24, i % 3 === 0 ? 70 : 1, i % 4, i % 4 === 1 ? Allocator.PymallocRealloc : Allocator.PymallocMalloc);
    if (i % 2 === 1) free(0x200000 + (i - 1) * 32);
    if (i % 10 === 9) free(0x100000 + (5500 + i) * 32);
  }
  assert.equal(
    replay.heap,
    [...live.values()].reduce((n, [, size]) => n + size, 0),
  );
  assert.deepEqual(new Set(calls.map((c) => c[3])), new Set([1, 3, 70]));
  assert.deepEqual(calls, expected);
});
