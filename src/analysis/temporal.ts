// What was live at the peak of each moment of the run: the data behind the HTML report's time windows.
//
// The run is cut into ticks at memory snapshots (one tick per snapshot interval, or per group of them
// when there are many). Inside each tick the heap has a highest point, its "peak moment". For every site
// this records its live bytes and count at every tick's peak moment, as runs: [start, end) ticks with the
// same value. The peak inside any window of ticks is then the tick with the highest peak, and what was
// live at it is the sum of the runs that cover that tick: exact, for any window, and for the whole run it
// is the high-water mark itself (the same moment memlens's peak report shows).
//
// Cost: O(1) per event, plus O(sites changed in the tick) when a tick closes (the same "save the value
// before it changes" trick as the replay's global peak: model/heap-replay.ts). Memory: the runs, bounded by
// coarsening: past MAX_TICKS ticks or `maxRuns` runs, pairs of ticks merge (the pair's peak moment is the
// higher of the two), which is exact at the coarser grain.

import type { ReplayObserver } from '../model/replay-observer.js';

export interface PeakTimelineResult {
  /** ns since start at which each tick ends. */
  readonly tickEnd: Float64Array;
  /** The highest tracked heap inside each tick, and when (ns, interpolated between snapshots). */
  readonly tickPeakHeap: Float64Array;
  readonly tickPeakTime: Float64Array;
  /** Snapshot intervals per tick (1 unless the ticks were coarsened). */
  readonly snapshotsPerTick: number;
  /** Runs: site, ticks [start, end), live bytes and count at the peak moments of those ticks. */
  readonly site: Int32Array;
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly bytes: Float64Array;
  readonly count: Float64Array;
}

export interface PeakTimelineOptions {
  /** At most this many ticks (default 2048). Even, at least 2. */
  readonly maxTicks?: number;
  /** Coarsen when the runs exceed this many (default 1,000,000). */
  readonly maxRuns?: number;
}

class Column {
  data: Float64Array;
  constructor(n: number) {
    this.data = new Float64Array(n);
  }
  ensure(n: number): void {
    if (n <= this.data.length) return;
    let cap = this.data.length * 2;
    while (cap < n) cap *= 2;
    const next = new Float64Array(cap);
    next.set(this.data);
    this.data = next;
  }
}

class Runs {
  site: Int32Array = new Int32Array(1024);
  start: Int32Array = new Int32Array(1024);
  end: Int32Array = new Int32Array(1024);
  bytes: Float64Array = new Float64Array(1024);
  count: Float64Array = new Float64Array(1024);
  n = 0;

  push(site: number, start: number, end: number, bytes: number, count: number): void {
    if (this.n === this.site.length) {
      const cap = this.n * 2;
      const grow = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
        const b = make(cap);
        b.set(a);
        return b;
      };
      this.site = grow(this.site, (k) => new Int32Array(k));
      this.start = grow(this.start, (k) => new Int32Array(k));
      this.end = grow(this.end, (k) => new Int32Array(k));
      this.bytes = grow(this.bytes, (k) => new Float64Array(k));
      this.count = grow(this.count, (k) => new Float64Array(k));
    }
    const i = this.n++;
    this.site[i] = site;
    this.start[i] = start;
    this.end[i] = end;
    this.bytes[i] = bytes;
    this.count[i] = count;
  }
}

export class PeakTimeline implements ReplayObserver {
  private readonly maxTicks: number;
  private readonly maxRuns: number;
  private sites = 0;
  private readonly live = [new Column(4096), new Column(4096)];
  private readonly saved = [new Column(4096), new Column(4096)];
  private readonly mark = new Column(4096);
  private readonly runStart = new Column(4096);
  private readonly runValue = [new Column(4096), new Column(4096)];
  private readonly inDirty = new Column(4096);
  private dirty: number[] = [];
  private readonly runs = new Runs();

  private heap = 0;
  private epoch = 1;
  private tickMax = 0;
  private tickMaxSeq = -0.5;
  private tickStartSeq = 0;
  private tickStartTime = 0;
  private snapsInTick = 0;
  private groupSize = 1;
  private lastSeq = 0;
  private readonly ticks = { end: [] as number[], peak: [] as number[], peakTime: [] as number[] };

  constructor(options: PeakTimelineOptions = {}) {
    this.maxTicks = Math.max(2, Math.floor((options.maxTicks ?? 2048) / 2) * 2);
    this.maxRuns = options.maxRuns ?? 1_000_000;
  }

  change(site: number, seq: number, bytes: number, count: number): void {
    if (site >= this.sites) this.grow(site + 1);
    if (this.mark.data[site] !== this.epoch) {
      this.saved[0]!.data[site] = this.live[0]!.data[site]!;
      this.saved[1]!.data[site] = this.live[1]!.data[site]!;
      this.mark.data[site] = this.epoch;
    }
    if (this.inDirty.data[site] === 0) {
      this.inDirty.data[site] = 1;
      this.dirty.push(site);
    }
    this.live[0]!.data[site]! += bytes;
    this.live[1]!.data[site]! += count;
    this.heap += bytes;
    this.lastSeq = seq;
    if (this.heap > this.tickMax) {
      // A new peak moment for this tick: every site's live value is now its value at it.
      this.tickMax = this.heap;
      this.tickMaxSeq = seq;
      this.epoch++;
    }
  }

  snapshot(seq: number, timeNs: number): void {
    this.snapsInTick++;
    if (this.snapsInTick >= this.groupSize) this.closeTick(seq, timeNs);
  }

  private grow(n: number): void {
    for (const c of [...this.live, ...this.saved, this.mark, this.runStart, ...this.runValue, this.inDirty]) c.ensure(n);
    this.sites = n;
  }

  private closeTick(endSeq: number, endTime: number): void {
    const k = this.ticks.end.length;
    // A site that changed after this tick's peak moment must be looked at again when the next tick
    // closes, even if it does not change then: its value at the next peak is not the one at this peak.
    const again: number[] = [];
    for (const site of this.dirty) {
      const atPeak = this.mark.data[site] === this.epoch;
      const b = atPeak ? this.saved[0]!.data[site]! : this.live[0]!.data[site]!;
      const c = atPeak ? this.saved[1]!.data[site]! : this.live[1]!.data[site]!;
      if (b !== this.live[0]!.data[site] || c !== this.live[1]!.data[site]) again.push(site);
      else this.inDirty.data[site] = 0;
      const rb = this.runValue[0]!.data[site]!;
      const rc = this.runValue[1]!.data[site]!;
      if (b === rb && c === rc) continue;
      const start = this.runStart.data[site]!;
      if ((rb !== 0 || rc !== 0) && start < k) this.runs.push(site, start, k, rb, rc);
      this.runStart.data[site] = k;
      this.runValue[0]!.data[site] = b;
      this.runValue[1]!.data[site] = c;
    }
    this.dirty = again;
    const span = endSeq - this.tickStartSeq;
    const frac = span > 0 ? Math.min(1, Math.max(0, (this.tickMaxSeq - this.tickStartSeq + 0.5) / span)) : 0;
    this.ticks.end.push(endTime);
    this.ticks.peak.push(this.tickMax);
    this.ticks.peakTime.push(this.tickStartTime + frac * (endTime - this.tickStartTime));
    // The next tick's first candidate peak is its opening moment, before any of its events.
    this.tickStartSeq = endSeq;
    this.tickStartTime = endTime;
    this.tickMax = this.heap;
    this.tickMaxSeq = endSeq - 0.5;
    this.epoch++;
    this.snapsInTick = 0;
    const n = this.ticks.end.length;
    if (n % 2 === 0 && (n >= this.maxTicks || this.runs.n > this.maxRuns)) this.coarsen();
  }

  /** Merges ticks 2b and 2b+1 into tick b; the pair's peak moment is the higher one (the first on a tie). */
  private coarsen(): void {
    const n = this.ticks.end.length;
    const half = n / 2;
    const pick = new Int32Array(half);
    const end: number[] = [];
    const peak: number[] = [];
    const peakTime: number[] = [];
    for (let b = 0; b < half; b++) {
      const k = this.ticks.peak[2 * b + 1]! > this.ticks.peak[2 * b]! ? 2 * b + 1 : 2 * b;
      pick[b] = k;
      end.push(this.ticks.end[2 * b + 1]!);
      peak.push(this.ticks.peak[k]!);
      peakTime.push(this.ticks.peakTime[k]!);
    }
    // Fine tick x → the first coarse tick whose peak moment is at or after fine tick x's.
    const coarse = (x: number): number => {
      if (x >= n) return half + (x - n);
      const b = x >> 1;
      return x <= pick[b]! ? b : b + 1;
    };
    const r = this.runs;
    let w = 0;
    for (let i = 0; i < r.n; i++) {
      const s = coarse(r.start[i]!);
      const e = coarse(r.end[i]!);
      if (s >= e) continue;
      r.site[w] = r.site[i]!;
      r.start[w] = s;
      r.end[w] = e;
      r.bytes[w] = r.bytes[i]!;
      r.count[w] = r.count[i]!;
      w++;
    }
    r.n = w;
    for (let site = 0; site < this.sites; site++) this.runStart.data[site] = coarse(this.runStart.data[site]!);
    this.ticks.end = end;
    this.ticks.peak = peak;
    this.ticks.peakTime = peakTime;
    this.groupSize *= 2;
  }

  /** Closes the last tick at `endTimeNs` (the end of the capture) and returns the runs. */
  finish(endTimeNs: number): PeakTimelineResult {
    const lastEnd = this.ticks.end.length > 0 ? this.ticks.end[this.ticks.end.length - 1]! : 0;
    if (this.snapsInTick > 0 || endTimeNs > lastEnd || this.lastSeq >= this.tickStartSeq || this.ticks.end.length === 0) {
      this.closeTick(Math.max(this.lastSeq + 1, this.tickStartSeq), Math.max(endTimeNs, lastEnd));
    }
    const n = this.ticks.end.length;
    for (let site = 0; site < this.sites; site++) {
      const b = this.runValue[0]!.data[site]!;
      const c = this.runValue[1]!.data[site]!;
      const start = this.runStart.data[site]!;
      if ((b !== 0 || c !== 0) && start < n) this.runs.push(site, start, n, b, c);
    }
    const r = this.runs;
    return {
      tickEnd: Float64Array.from(this.ticks.end),
      tickPeakHeap: Float64Array.from(this.ticks.peak),
      tickPeakTime: Float64Array.from(this.ticks.peakTime),
      snapshotsPerTick: this.groupSize,
      site: r.site.slice(0, r.n),
      start: r.start.slice(0, r.n),
      end: r.end.slice(0, r.n),
      bytes: r.bytes.slice(0, r.n),
      count: r.count.slice(0, r.n),
    };
  }
}

export interface LeakTimelineResult {
  /** ns since start at which each tick ends. */
  readonly tickEnd: Float64Array;
  readonly snapshotsPerTick: number;
  /** Lifetimes: site, allocated in tick `start`, freed in tick `end` (the tick count: never freed). */
  readonly site: Int32Array;
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly bytes: Float64Array;
  readonly count: Float64Array;
}

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

  change(site: number, _seq: number, bytes: number, count: number, thread: number, index: number): void {
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

  private tickOf(thread: number, index: number): number {
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
    const out = { site: [] as number[], start: [] as number[], end: [] as number[], bytes: [] as number[], count: [] as number[] };
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
      if (f > a) {
        out.site.push(Math.floor(sa / K));
        out.start.push(a);
        out.end.push(Math.min(f, n));
        out.bytes.push(v[0]);
        out.count.push(v[1]);
      }
    }
    for (const [sa, v] of this.made) {
      const f = freedOf.get(sa) ?? [0, 0];
      const bytes = v[0] - f[0];
      const count = v[1] - f[1];
      if (bytes === 0 && count === 0) continue;
      out.site.push(Math.floor(sa / K));
      out.start.push(sa % K);
      out.end.push(n);
      out.bytes.push(bytes);
      out.count.push(count);
    }
    return {
      tickEnd: Float64Array.from(this.ends),
      snapshotsPerTick: this.groupSize,
      site: Int32Array.from(out.site),
      start: Int32Array.from(out.start),
      end: Int32Array.from(out.end),
      bytes: Float64Array.from(out.bytes),
      count: Float64Array.from(out.count),
    };
  }

  private hasOpenTickEvents(): boolean {
    const K = LeakTimeline.K;
    for (const key of this.made.keys()) if (key % K === this.tick) return true;
    for (const key of this.gone.keys()) if (key % K === this.tick) return true;
    return false;
  }
}
