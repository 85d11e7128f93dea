// Each site's live memory over the run, sampled: the evidence behind the findings about memory that
// accumulates (findings/accumulation.ts, findings/growing-collection.ts). Where "what grew in the last
// seconds" (recent-growth.ts) compares two moments, this keeps enough of them to tell a steady climb from
// a plateau or a sawtooth.
//
// The run is cut into ticks at memory snapshots (event captures) or at checkpoints (aggregated captures,
// whose events the agent counted itself). For every site this records its live bytes and count at the end
// of each tick, as runs of ticks with the same value (tick-runs.ts), so the data grows with the changes,
// not with sites × ticks; a site's ticks at 0 are not stored. Past MAX_TICKS ticks, or `maxRuns` runs,
// pairs of ticks merge into one that keeps the later value (the end of the pair): exact at the coarser
// grain. The last tick ends with the replay: its values are those live at the end.
//
// Cost: O(1) per event, O(sites changed in a tick) when a tick closes.

import type { CheckpointEntry, CheckpointRecord } from '../capture/records.js';
import type { SiteId } from '../model/ids.js';
import type { ReplayContext, ReplayObserver } from '../model/replay-observer.js';
import { type ReadonlyCountArray, type ReadonlyFloat64Array, SiteColumn, grownTo, newInt32Array, newUint8Array } from '../model/site-table.js';
import { SiteHash } from './site-hash.js';
import { Runs, type TickRuns } from './tick-runs.js';

/**
 * Ticks kept at most: enough to see the shape of a run (a climb, steps, a sawtooth of a few rounds) at a
 * grain of 1/256 of it; even, so that pairs merge.
 */
export const SERIES_MAX_TICKS = 256;

/** Runs: site, ticks [start, end), its live bytes and count at the end of each of those ticks. */
export type LiveSeriesResult = TickRuns;

export interface LiveSeriesOptions {
  readonly maxTicks?: number;
  /** Coarsen when the runs exceed this many (default 1,000,000: 36 MB at most). */
  readonly maxRuns?: number;
  /** The per-site marks, shared with RecentGrowth (forensics.ts); default: its own. */
  readonly marks?: SiteMarks;
}

/** SiteMarks' bits: the site is in LiveSeries' list of changed sites (its open tick). */
export const SERIES_DIRTY = 1;
/** The site is in RecentGrowth's list of changed sites (recent-growth.ts). */
export const RECENT_DIRTY = 2;
/** LiveSeries' open run of the site holds a value other than 0 bytes and 0 allocations. */
export const SERIES_HELD = 4;
/** RecentGrowth's last tick that listed the site gave it a value other than 0 bytes and 0 allocations. */
export const RECENT_HELD = 8;
/** The site is in ForensicsObserver's list of the sites changed since the last snapshot (forensics.ts). */
export const CHANGED = 16;

/**
 * A byte per site for both observers that list the sites a tick changed, LiveSeries and RecentGrowth: their
 * marks "in my list" and "my last value of it was not 0", as bits (above). Each kept a byte array of its own
 * before, so a change read two bytes far apart (two cache misses on call_sites' 2.6 M sites); one byte, and
 * the second read is of the line the first brought in. The "held" bits let a tick pass over a site that is
 * at 0 now and was at 0 before without reading the observer's own columns: on call_sites 98.7 % of the
 * sites a tick listed were allocated and freed inside it (docs/benchmarks.md, round twenty-three).
 */
export class SiteMarks {
  array = new Uint8Array(1024);

  /** Room for sites below `n` (doubling). */
  ensure(n: number): void {
    this.array = grownTo(this.array, n, newUint8Array);
  }
}

/** The values of an open run in `LiveSeries.open`. */
const RUN_START = 0;
const RUN_BYTES = 1;
const RUN_COUNT = 2;

interface CheckpointTick {
  timeNs: number;
  entries: Map<string, CheckpointEntry>;
}

export class LiveSeries implements ReplayObserver {
  /** Reads no index. */
  readonly indexesFrom = Infinity;
  private readonly maxTicks: number;
  private readonly maxRuns: number;
  private sites = 0;
  /** Grown only while `shared` is undefined: 16 bytes a site that an event capture never reads (below). */
  private readonly liveBytes = new SiteColumn(1024);
  private readonly liveCount = new SiteColumn(1024);
  /**
   * The replay's own live columns, once begin() gives them: they hold what this would add up (the replay
   * tells the observer every change it makes), so change() only marks the site. Undefined: this keeps
   * its own (unit tests, aggregated captures, whose values come from checkpoints).
   */
  private shared: { readonly bytes: { readonly array: ReadonlyFloat64Array }; readonly count: { readonly array: ReadonlyCountArray } } | undefined;
  /** The last tick was closed early (stop()): finish() only returns the runs. */
  private stopped = false;
  /**
   * The open run of each site whose run is not at 0 (SERIES_HELD): the tick it started in, its bytes and
   * count (RUN_START, RUN_BYTES, RUN_COUNT). A run at 0 is never pushed, so its start is not needed: the
   * other sites have no entry. Three columns of every site were 12 bytes a site (16 MiB each on call_sites,
   * columns of 4 M sites) for 571 sites held at the end (docs/benchmarks.md, round twenty-seven).
   */
  private readonly open = new SiteHash(3);
  /** SERIES_DIRTY and SERIES_HELD of each site (the array shared with RecentGrowth in forensics.ts). */
  private readonly marks: SiteMarks;
  /**
   * The sites changed in the open tick, `nDirty` of them: an Int32Array kept from tick to tick (grown by
   * doubling). An array made anew at each tick grew again by pushes, about one a change on call_sites
   * (24.5 M in 404 ticks, up to 248 k in one): ~150 MB of array stores for the three observers that keep
   * such lists (docs/benchmarks.md, round twenty-one).
   */
  private dirty = new Int32Array(1024);
  private nDirty = 0;
  /** A change came in the open tick (listed or not: changedSince()). */
  private changedInTick = false;
  private readonly runs = new Runs();
  private ends: number[] = [];
  private groupSize = 1;
  private snapsInTick = 0;
  private lastSnapshotNs = 0;

  /** Aggregated captures: checkpoints, kept until their entries can be resolved to sites. */
  private aggregated = false;
  private cpTicks: CheckpointTick[] = [];
  private cpGroup = 1;
  private cpInGroup = 0;

  constructor(options: LiveSeriesOptions = {}) {
    this.maxTicks = Math.max(2, Math.floor((options.maxTicks ?? SERIES_MAX_TICKS) / 2) * 2);
    this.maxRuns = options.maxRuns ?? 1_000_000;
    this.marks = options.marks ?? new SiteMarks();
  }

  begin(context: ReplayContext): void {
    this.shared = { bytes: context.sites.columns.liveBytes, count: context.sites.columns.liveCount };
  }

  /** A change came in the open tick (ForensicsObserver's way in: the sites it lists are fewer than those changed). */
  changedSince(): void {
    this.changedInTick = true;
  }

  /**
   * Lists a site changed in the open tick whose change may matter to it (its SERIES_DIRTY clear: the caller
   * sets it). ForensicsObserver's way in: it keeps the one list of changed sites for this and RecentGrowth,
   * and hands over at each snapshot only the sites not back at 0 or whose open run is not at 0 (forensics.ts).
   */
  listSite(site: SiteId): void {
    this.changedInTick = true;
    if (site >= this.sites) this.grow(site + 1);
    if (this.nDirty === this.dirty.length) this.dirty = grownTo(this.dirty, this.nDirty + 1, newInt32Array);
    this.dirty[this.nDirty++] = site;
  }

  change(site: SiteId, _seq: number, bytes: number, count: number): void {
    if (site >= this.sites) this.grow(site + 1);
    if (this.shared === undefined) {
      this.liveBytes.array[site] = this.liveBytes.array[site]! + bytes;
      this.liveCount.array[site] = this.liveCount.array[site]! + count;
    }
    const marks = this.marks.array;
    const m = marks[site]!;
    if ((m & SERIES_DIRTY) === 0) {
      marks[site] = m | SERIES_DIRTY;
      if (this.nDirty === this.dirty.length) this.dirty = grownTo(this.dirty, this.nDirty + 1, newInt32Array);
      this.dirty[this.nDirty++] = site;
    } else if ((m & SERIES_HELD) === 0 && (bytes < 0 || count < 0) && this.atZero(site)) {
      // Back at 0, the value of its open run: nothing to close for it unless it changes again in this tick
      // (then it is listed again; closeTick() passes over an entry whose mark is clear). It stays in the list:
      // its first entry keeps its place, so the runs come in the same order.
      marks[site] = m & ~SERIES_DIRTY;
    }
  }

  /** The site's live bytes and count are both 0 (read just after the replay wrote them). */
  private atZero(site: SiteId): boolean {
    const shared = this.shared;
    if (shared === undefined) return this.liveBytes.array[site] === 0 && this.liveCount.array[site] === 0;
    return shared.bytes.array[site] === 0 && shared.count.array[site] === 0;
  }

  snapshot(_seq: number, timeNs: number): void {
    if (this.aggregated) return;
    if (timeNs > this.lastSnapshotNs) this.lastSnapshotNs = timeNs;
    this.snapsInTick++;
    if (this.snapsInTick >= this.groupSize) this.closeTick(timeNs);
  }

  checkpoint(record: CheckpointRecord): void {
    if (!this.aggregated) {
      // An aggregated capture: its ticks are its checkpoints (snapshots carry no per-site values).
      this.aggregated = true;
      this.unshare();
      this.ends = [];
      this.snapsInTick = 0;
    }
    // Checkpoints hold the locations that changed since the previous one; merge groups of them as the
    // ticks are merged (the later entry of a location wins: its value at the end of the group).
    let t = this.cpInGroup > 0 ? this.cpTicks[this.cpTicks.length - 1] : undefined;
    if (t === undefined) {
      t = { timeNs: record.timeNs, entries: new Map() };
      this.cpTicks.push(t);
    }
    for (const e of record.entries) t.entries.set(`${e.stream}:${e.stack}:${e.nativeStack}:${e.allocator}`, e);
    t.timeNs = Math.max(t.timeNs, record.timeNs);
    this.cpInGroup++;
    if (this.cpInGroup < this.cpGroup) return;
    this.cpInGroup = 0;
    if (this.cpTicks.length >= this.maxTicks) {
      const merged: CheckpointTick[] = [];
      for (let i = 0; i < this.cpTicks.length; i += 2) {
        const a = this.cpTicks[i]!;
        const b = this.cpTicks[i + 1];
        if (b !== undefined) {
          for (const [k, e] of b.entries) a.entries.set(k, e);
          a.timeNs = b.timeNs;
        }
        merged.push(a);
      }
      this.cpTicks = merged;
      this.cpGroup *= 2;
    }
  }

  resolveCheckpoints(siteOf: (entry: CheckpointEntry) => SiteId): void {
    for (const t of this.cpTicks) {
      for (const e of t.entries.values()) {
        const site = siteOf(e);
        if (site >= this.sites) this.grow(site + 1);
        this.change(site, 0, e.liveBytes - this.liveBytes.array[site]!, e.liveCount - this.liveCount.array[site]!);
      }
      this.lastSnapshotNs = Math.max(this.lastSnapshotNs, t.timeNs);
      this.closeTick(t.timeNs);
    }
    this.cpTicks = [];
  }

  /**
   * Nothing more reaches this observer, but the replay goes on (past the program's end, forensics.ts): the
   * last tick closes now, while the replay's live columns still hold this observer's values.
   */
  stop(): void {
    if (this.shared === undefined || this.stopped) return;
    this.closeLastTick();
    this.stopped = true;
  }

  /** Bytes held by the per-site columns (for tests and the memory figures in benchmarks). */
  get byteLength(): number {
    const cols = [this.liveBytes, this.liveCount];
    return cols.reduce((n, c) => n + c.array.byteLength, 0) + this.open.byteLength + this.marks.array.byteLength;
  }

  /** Closes the last tick (the values live at the end) and returns the runs. */
  finish(): LiveSeriesResult {
    if (!this.stopped) this.closeLastTick();
    const n = this.ends.length;
    // The open runs in the order of their sites (as the columns of every site gave them).
    const open = this.open;
    const held = new Int32Array(open.size);
    let h = 0;
    for (let slot = 0; slot < open.slots; slot++) if (open.slotSite(slot) >= 0) held[h++] = open.slotSite(slot);
    held.sort();
    for (const site of held) {
      const slot = open.find(site);
      const start = open.value(slot, RUN_START);
      if (start < n) this.runs.push(site, start, n, open.value(slot, RUN_BYTES), open.value(slot, RUN_COUNT));
    }
    return { tickEnd: Float64Array.from(this.ends), snapshotsPerTick: this.aggregated ? this.cpGroup : this.groupSize, ...this.runs.columns() };
  }

  private closeLastTick(): void {
    const lastEnd = this.ends.length > 0 ? this.ends[this.ends.length - 1]! : 0;
    // Events after the last snapshot happened at an unknown time after it: they close a tick there.
    if (this.nDirty > 0 || this.changedInTick || this.snapsInTick > 0 || this.ends.length === 0) this.closeTick(Math.max(this.lastSnapshotNs, lastEnd));
  }

  /** Back to columns of its own, holding what the shared ones hold now. */
  private unshare(): void {
    const shared = this.shared;
    if (shared === undefined) return;
    this.shared = undefined;
    this.liveBytes.ensure(this.sites);
    this.liveCount.ensure(this.sites);
    for (let site = 0; site < this.sites; site++) {
      this.liveBytes.array[site] = shared.bytes.array[site]!;
      this.liveCount.array[site] = shared.count.array[site]!;
    }
  }

  private closeTick(endNs: number): void {
    const k = this.ends.length;
    const liveBytes = this.shared?.bytes.array ?? this.liveBytes.array;
    const liveCount = this.shared?.count.array ?? this.liveCount.array;
    const dirty = this.dirty;
    const nDirty = this.nDirty;
    const marks = this.marks.array;
    const open = this.open;
    for (let i = 0; i < nDirty; i++) {
      const site = dirty[i]!;
      const mark = marks[site]!;
      // Listed again after change() found it back at 0, or back at 0 since: nothing to do (see change()).
      if ((mark & SERIES_DIRTY) === 0) continue;
      const m = mark & ~SERIES_DIRTY;
      const b = liveBytes[site]!;
      const c = liveCount[site]!;
      // At 0 and its open run at 0 (SERIES_HELD clear): nothing to read of the run's columns.
      if (b === 0 && c === 0 && (m & SERIES_HELD) === 0) {
        marks[site] = m;
        continue;
      }
      // Its open run: in `open` when held, else at 0 (and its start never read).
      const slot = (m & SERIES_HELD) !== 0 ? open.find(site) : -1;
      const rb = slot >= 0 ? open.value(slot, RUN_BYTES) : 0;
      const rc = slot >= 0 ? open.value(slot, RUN_COUNT) : 0;
      if (b === rb && c === rc) {
        marks[site] = m;
        continue;
      }
      if (slot >= 0) {
        const start = open.value(slot, RUN_START);
        if (start < k) this.runs.push(site, start, k, rb, rc);
      }
      if (b !== 0 || c !== 0) {
        const s = slot >= 0 ? slot : open.insertAbsent(site);
        open.setValue(s, RUN_START, k);
        open.setValue(s, RUN_BYTES, b);
        open.setValue(s, RUN_COUNT, c);
        marks[site] = m | SERIES_HELD;
      } else {
        // Back at 0 from a run not at 0 (a run at 0 that stays there was passed over above): it has a slot.
        open.removeAt(slot);
        marks[site] = m & ~SERIES_HELD;
      }
    }
    this.nDirty = 0;
    this.changedInTick = false;
    this.ends.push(endNs);
    this.snapsInTick = 0;
    const n = this.ends.length;
    if (n % 2 === 0 && (n >= this.maxTicks || this.runs.n > this.maxRuns)) this.coarsen();
  }

  /**
   * Ticks 2b and 2b+1 become tick b, with the value at the end of 2b+1. A run [s, e) of fine ticks covers
   * the odd ticks in it, so coarse ticks [⌊s/2⌋, ⌊e/2⌋); a run of one even tick vanishes.
   */
  private coarsen(): void {
    this.runs.remapTicks((t) => t >> 1);
    const open = this.open;
    for (let slot = 0; slot < open.slots; slot++) if (open.slotSite(slot) >= 0) open.setValue(slot, RUN_START, open.value(slot, RUN_START) >> 1);
    this.ends = this.ends.filter((_, i) => i % 2 === 1);
    this.groupSize *= 2;
  }

  private grow(n: number): void {
    if (this.shared === undefined) {
      this.liveBytes.ensure(n);
      this.liveCount.ensure(n);
    }
    this.marks.ensure(n);
    this.sites = n;
  }
}

/** A group of sites' live bytes and count summed, at each tick's end (dense: one value per tick). */
export interface GroupSeries {
  /** ns since tracking started at which each tick ends (shared by every group). */
  readonly timeNs: Float64Array;
  readonly bytes: Float64Array;
  readonly count: Float64Array;
}

/**
 * The summed series of groups of sites: `groupOf(site)` is the group's index (0 to groups - 1), or -1 for
 * a site in none. One pass over the runs (a difference array per group): O(runs + groups × ticks).
 */
export function groupSeries(series: LiveSeriesResult, groups: number, groupOf: (site: SiteId) => number): GroupSeries[] {
  const n = series.tickEnd.length;
  const db = Array.from({ length: groups }, () => new Float64Array(n + 1));
  const dc = Array.from({ length: groups }, () => new Float64Array(n + 1));
  for (let i = 0; i < series.site.length; i++) {
    const g = groupOf(series.site[i]! as SiteId);
    if (g < 0) continue;
    const b = db[g]!;
    const c = dc[g]!;
    const s = series.start[i]!;
    const e = series.end[i]!;
    b[s] = b[s]! + series.bytes[i]!;
    b[e] = b[e]! - series.bytes[i]!;
    c[s] = c[s]! + series.count[i]!;
    c[e] = c[e]! - series.count[i]!;
  }
  return db.map((d, g) => {
    const bytes = new Float64Array(n);
    const count = new Float64Array(n);
    const e = dc[g]!;
    let b = 0;
    let c = 0;
    for (let k = 0; k < n; k++) {
      b += d[k]!;
      c += e[k]!;
      bytes[k] = b;
      count[k] = c;
    }
    return { timeNs: series.tickEnd, bytes, count };
  });
}
