// What was allocated in each window of the run and not freed by its end: the data behind the HTML
// report's time windows in leaks mode (its twin for the peak is peak-timeline.ts). Ticks are cut at
// memory snapshots as there, and at the program's end (program-end.ts): a window can end exactly there, so
// what the program held at its end shows apart from what memlens's release of the script's names left.

import type { MarkerRecord } from '../capture/records.js';
import type { SiteId, ThreadIndex } from '../model/ids.js';
import type { ReplayObserver } from '../model/replay-observer.js';
import { isProgramEndMarker } from './program-end.js';
import { Runs, type TickRuns } from './tick-runs.js';

/** Runs are lifetimes: site, allocated in tick `start`, freed in tick `end` (the tick count: never freed). */
export type LeakTimelineResult = TickRuns;

/**
 * Lifetimes in ticks, for "allocated in this window and not freed by its end" (leaks inside a window).
 * Per site and pair of ticks (allocated in, freed in) the bytes and count. When a block is freed, the
 * tick it was allocated in comes from its number among its thread's allocations: those numbers grow with
 * time, so per thread the first number of each tick is enough (no table of live blocks).
 */
export class LeakTimeline implements ReplayObserver {
  private readonly maxTicks: number;
  private readonly maxEntries: number;
  private tick = 0;
  private groupSize = 1;
  private snapsInTick = 0;
  private ends: number[] = [];
  /** Per thread: the first allocation number of each tick that had allocations, and that tick. */
  private readonly firstIndex: number[][] = [];
  private readonly firstTick: number[][] = [];
  /** (site, allocated tick) → [bytes, count] allocated; (site, allocated, freed) → [bytes, count] freed. */
  private made = new Map<number, [number, number]>();
  private gone = new Map<number, [number, number]>();
  private static readonly K = 1 << 16;

  constructor(options: { maxTicks?: number; maxEntries?: number } = {}) {
    this.maxTicks = Math.max(2, Math.floor(Math.min(options.maxTicks ?? 2048, LeakTimeline.K / 2) / 2) * 2);
    this.maxEntries = options.maxEntries ?? 1_000_000;
  }

  change(site: SiteId, _seq: number, bytes: number, count: number, thread: ThreadIndex, index: number): void {
    const K = LeakTimeline.K;
    if (count > 0 || (count === 0 && bytes > 0)) {
      let idx = this.firstIndex[thread];
      let tk = this.firstTick[thread];
      if (idx === undefined || tk === undefined) {
        idx = this.firstIndex[thread] = [];
        tk = this.firstTick[thread] = [];
      }
      if (tk.length === 0 || tk[tk.length - 1] !== this.tick) {
        idx.push(index);
        tk.push(this.tick);
      }
      const key = site * K + this.tick;
      const e = this.made.get(key);
      if (e === undefined) this.made.set(key, [bytes, count]);
      else {
        e[0] += bytes;
        e[1] += count;
      }
      return;
    }
    const a = this.tickOf(thread, index);
    const key = (site * K + a) * K + this.tick;
    const e = this.gone.get(key);
    if (e === undefined) this.gone.set(key, [-bytes, -count]);
    else {
      e[0] -= bytes;
      e[1] -= count;
    }
  }

  private tickOf(thread: ThreadIndex, index: number): number {
    const idx = this.firstIndex[thread];
    const tk = this.firstTick[thread];
    if (idx === undefined || tk === undefined || idx.length === 0) return 0;
    let lo = 0;
    let hi = idx.length - 1;
    // The last entry whose first index is at or below `index`.
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (idx[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return tk[lo]!;
  }

  snapshot(_seq: number, timeNs: number): void {
    this.snapsInTick++;
    if (this.snapsInTick >= this.groupSize) this.closeTick(timeNs);
  }

  marker(record: MarkerRecord): void {
    if (isProgramEndMarker(record)) this.closeTick(record.timeNs);
  }

  private closeTick(endTime: number): void {
    this.ends.push(endTime);
    this.tick++;
    this.snapsInTick = 0;
    if (this.tick % 2 === 0 && (this.tick >= this.maxTicks || this.made.size + this.gone.size > this.maxEntries)) this.coarsen();
  }

  /** Ticks 2b and 2b+1 become tick b: a lifetime inside one pair is dropped (it never outlives a tick). */
  private coarsen(): void {
    const K = LeakTimeline.K;
    const made = new Map<number, [number, number]>();
    for (const [key, v] of this.made) {
      const site = Math.floor(key / K);
      const k = site * K + ((key % K) >> 1);
      const e = made.get(k);
      if (e === undefined) made.set(k, [v[0], v[1]]);
      else {
        e[0] += v[0];
        e[1] += v[1];
      }
    }
    const gone = new Map<number, [number, number]>();
    for (const [key, v] of this.gone) {
      const f = key % K;
      const sa = Math.floor(key / K);
      const a = sa % K;
      const site = Math.floor(sa / K);
      const k = (site * K + (a >> 1)) * K + (f >> 1);
      const e = gone.get(k);
      if (e === undefined) gone.set(k, [v[0], v[1]]);
      else {
        e[0] += v[0];
        e[1] += v[1];
      }
    }
    this.made = made;
    this.gone = gone;
    for (const tk of this.firstTick) if (tk !== undefined) for (let i = 0; i < tk.length; i++) tk[i] = tk[i]! >> 1;
    this.ends = this.ends.filter((_, i) => i % 2 === 1);
    this.tick >>= 1;
    this.groupSize *= 2;
  }

  finish(endTimeNs: number): LeakTimelineResult {
    const last = this.ends.length > 0 ? this.ends[this.ends.length - 1]! : 0;
    // The open tick holds the events after the last snapshot; close it unless it is empty and ends nowhere.
    if (this.snapsInTick > 0 || endTimeNs > last || this.ends.length === 0 || this.hasOpenTickEvents()) this.closeTick(Math.max(endTimeNs, last));
    const n = this.ends.length;
    const K = LeakTimeline.K;
    const out = new Runs();
    const freedOf = new Map<number, [number, number]>();
    for (const [key, v] of this.gone) {
      const f = key % K;
      const sa = Math.floor(key / K);
      const e = freedOf.get(sa);
      if (e === undefined) freedOf.set(sa, [v[0], v[1]]);
      else {
        e[0] += v[0];
        e[1] += v[1];
      }
      const a = sa % K;
      if (f > a) out.push(Math.floor(sa / K), a, Math.min(f, n), v[0], v[1]);
    }
    for (const [sa, v] of this.made) {
      const f = freedOf.get(sa) ?? [0, 0];
      const bytes = v[0] - f[0];
      const count = v[1] - f[1];
      if (bytes === 0 && count === 0) continue;
      out.push(Math.floor(sa / K), sa % K, n, bytes, count);
    }
    return {
      tickEnd: Float64Array.from(this.ends),
      snapshotsPerTick: this.groupSize,
      ...out.columns(),
    };
  }

  private hasOpenTickEvents(): boolean {
    const K = LeakTimeline.K;
    for (const key of this.made.keys()) if (key % K === this.tick) return true;
    for (const key of this.gone.keys()) if (key % K === this.tick) return true;
    return false;
  }
}
