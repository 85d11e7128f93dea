// What was live at the peak of each moment of the run: the data behind the HTML report's time windows
// ("what was live at the peak inside this window"). Its twin for leaks is leak-timeline.ts.
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

import type { SiteId } from '../model/ids.js';
import type { ReplayObserver } from '../model/replay-observer.js';
import { grownTo, newInt32Array, newUint8Array } from '../model/site-table.js';
import { Runs, type TickRuns } from './tick-runs.js';

/** Runs: site, ticks [start, end), its live bytes and count at the peak moments of those ticks. */
export interface PeakTimelineResult extends TickRuns {
  /** The highest tracked heap inside each tick, and when (ns, interpolated between snapshots). */
  readonly tickPeakHeap: Float64Array;
  readonly tickPeakTime: Float64Array;
}

export interface PeakTimelineOptions {
  /** At most this many ticks (default 2048). Even, at least 2. */
  readonly maxTicks?: number;
  /** Coarsen when the runs exceed this many (default 1,000,000). */
  readonly maxRuns?: number;
}

/** A per-site quantity that grows with the sites seen. */
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

export class PeakTimeline implements ReplayObserver {
  /** Reads no index. */
  readonly indexesFrom = Infinity;
  private readonly maxTicks: number;
  private readonly maxRuns: number;
  private sites = 0;
  private readonly live = [new Column(4096), new Column(4096)];
  private readonly saved = [new Column(4096), new Column(4096)];
  private readonly mark = new Column(4096);
  // The open run's first tick (below maxTicks) and the dirty flag: 4 and 1 bytes a site rather than two
  // Float64 columns' 16 (call_sites at 5 %: 1.18 M sites, columns of 2 M; docs/benchmarks.md, round eighteen).
  private runStart = new Int32Array(4096);
  private readonly runValue = [new Column(4096), new Column(4096)];
  private inDirty = new Uint8Array(4096);
  /** The sites to look at when the tick closes, `nDirty` of them, in an array kept from tick to tick (live-series.ts). */
  private dirty = new Int32Array(4096);
  private nDirty = 0;
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

  change(site: SiteId, seq: number, bytes: number, count: number): void {
    if (site >= this.sites) this.grow(site + 1);
    if (this.mark.data[site] !== this.epoch) {
      this.saved[0]!.data[site] = this.live[0]!.data[site]!;
      this.saved[1]!.data[site] = this.live[1]!.data[site]!;
      this.mark.data[site] = this.epoch;
    }
    if (this.inDirty[site] === 0) {
      this.inDirty[site] = 1;
      if (this.nDirty === this.dirty.length) this.dirty = grownTo(this.dirty, this.nDirty + 1, newInt32Array);
      this.dirty[this.nDirty++] = site;
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
    this.sites = n;
    // Once per new site: the columns grow by doubling, so most calls have nothing to do (and no array to make).
    if (n <= this.runStart.length) return;
    for (const c of [...this.live, ...this.saved, this.mark, ...this.runValue]) c.ensure(n);
    this.runStart = grownTo(this.runStart, n, newInt32Array);
    this.inDirty = grownTo(this.inDirty, n, newUint8Array);
  }

  private closeTick(endSeq: number, endTime: number): void {
    const k = this.ticks.end.length;
    // A site that changed after this tick's peak moment must be looked at again when the next tick
    // closes, even if it does not change then: its value at the next peak is not the one at this peak.
    // They stay in the list: the first `again` of it, written over the sites already looked at.
    const dirty = this.dirty;
    const nDirty = this.nDirty;
    let again = 0;
    for (let i = 0; i < nDirty; i++) {
      const site = dirty[i]!;
      const atPeak = this.mark.data[site] === this.epoch;
      const b = atPeak ? this.saved[0]!.data[site]! : this.live[0]!.data[site]!;
      const c = atPeak ? this.saved[1]!.data[site]! : this.live[1]!.data[site]!;
      if (b !== this.live[0]!.data[site] || c !== this.live[1]!.data[site]) dirty[again++] = site;
      else this.inDirty[site] = 0;
      const rb = this.runValue[0]!.data[site]!;
      const rc = this.runValue[1]!.data[site]!;
      if (b === rb && c === rc) continue;
      const start = this.runStart[site]!;
      if ((rb !== 0 || rc !== 0) && start < k) this.runs.push(site, start, k, rb, rc);
      this.runStart[site] = k;
      this.runValue[0]!.data[site] = b;
      this.runValue[1]!.data[site] = c;
    }
    this.nDirty = again;
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
    this.runs.remapTicks(coarse);
    for (let site = 0; site < this.sites; site++) this.runStart[site] = coarse(this.runStart[site]!);
    this.ticks.end = end;
    this.ticks.peak = peak;
    this.ticks.peakTime = peakTime;
    this.groupSize *= 2;
  }

  /** Bytes held by the per-site columns (for tests and the memory figures in benchmarks). */
  get byteLength(): number {
    const cols = [...this.live, ...this.saved, this.mark, ...this.runValue];
    return cols.reduce((n, c) => n + c.data.byteLength, 0) + this.runStart.byteLength + this.inDirty.byteLength;
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
      const start = this.runStart[site]!;
      if ((b !== 0 || c !== 0) && start < n) this.runs.push(site, start, n, b, c);
    }
    return {
      tickEnd: Float64Array.from(this.ticks.end),
      tickPeakHeap: Float64Array.from(this.ticks.peak),
      tickPeakTime: Float64Array.from(this.ticks.peakTime),
      snapshotsPerTick: this.groupSize,
      ...this.runs.columns(),
    };
  }
}
