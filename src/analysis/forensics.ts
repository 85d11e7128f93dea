// The facts the verdict, the findings and the GC report need beyond the model's end state, gathered in
// the same replay (one ReplayObserver, given to the model builder): what grew in the last seconds, what
// the collector freed, how long large allocations lived, blocks grown by realloc, and each site's live
// memory over the run. All of them stop at the program's end (program-end.ts): what memlens releases after
// it is not the program's behaviour.

import { type CaptureHeader, type CheckpointEntry, type CheckpointRecord, DOUBLE_FIELD, type GcRecord, type MarkerRecord } from '../capture/records.js';
import type { SiteId, ThreadIndex } from '../model/ids.js';
import type { ReplayContext, ReplayObserver } from '../model/replay-observer.js';
import { GcFrees, type GcFreesResult } from './gc-frees.js';
import { LARGE_ALLOCATION_BYTES, LargeLifetimes, type LifetimesResult } from './large-lifetimes.js';
import { CHANGED, LiveSeries, type LiveSeriesResult, RECENT_DIRTY, RECENT_HELD, SERIES_DIRTY, SERIES_HELD, SiteMarks } from './live-series.js';
import { grownTo, newInt32Array } from '../model/site-table.js';
import { isProgramEndMarker } from './program-end.js';
import { ReallocGrowth, type ReallocGrowthResult } from './realloc-growth.js';
import { RecentGrowth, type RecentGrowthResult } from './recent-growth.js';

/** The verdict's default "last seconds before the end". */
export const DEFAULT_LAST_NS = 5_000_000_000;

export interface ForensicFacts {
  /** Undefined when not asked for (noRecentGrowth). */
  readonly recent: RecentGrowthResult | undefined;
  readonly gcFrees: GcFreesResult;
  readonly lifetimes: LifetimesResult;
  readonly reallocs: ReallocGrowthResult;
  /** Each site's live memory over the run, sampled (the accumulation findings). */
  readonly series: LiveSeriesResult;
  /** Where these facts stop: the program's end (PROGRAM_END), if the capture marks it; else at the capture's end. */
  readonly stoppedAt: { readonly seq: number; readonly timeNs: number } | undefined;
}

export interface ForensicsOptions {
  /** The window of "what grew in the last seconds", ns (default 5 s). */
  readonly lastNs?: number | undefined;
  /** Leave out what grew in the last seconds (the findings do not need it). */
  readonly noRecentGrowth?: boolean;
}

export class ForensicsObserver implements ReplayObserver {
  /** LargeLifetimes is the only one that reads indexes. */
  readonly indexesFrom = LARGE_ALLOCATION_BYTES;
  private readonly recent: RecentGrowth | undefined;
  private readonly gcFrees = new GcFrees();
  private readonly lifetimes = new LargeLifetimes();
  private readonly reallocs = new ReallocGrowth();
  /** RecentGrowth's and LiveSeries' marks of each site in one byte (live-series.ts). */
  private readonly marks = new SiteMarks();
  private readonly series = new LiveSeries({ marks: this.marks });
  private stoppedAt: { seq: number; timeNs: number } | undefined;
  /** stoppedAt is set: the hot path's test, on a boolean. */
  private stopped = false;
  /**
   * The sites changed since the last snapshot, `nChanged` of them (CHANGED in `marks`), for RecentGrowth and
   * LiveSeries both: a change marks one byte and pushes one entry where each of them marked and listed it
   * (change()), and a site back at 0 that neither holds a value for leaves the list at once. At a snapshot
   * (drain()) each gets only the sites whose tick has something to do: on call_sites nearly every site a tick
   * changed was allocated and freed in it (docs/benchmarks.md, round thirty-one).
   */
  private changedSites = new Int32Array(1024);
  private nChanged = 0;
  /** Sites below this have room in `marks`. */
  private room = 0;
  /** The replay's live columns (begin()): a change is written to them before the observer is told. */
  private live: ReplayContext['sites']['columns'] | undefined;
  /**
   * RecentGrowth's heap and "changed since the last snapshot" (RecentGrowth.caughtUp()). The heap a double from the
   * start (set to 0 in the constructor): a Smi field that passes 2^30 changes its representation, a deopt (heap-replay.ts).
   */
  private heap = DOUBLE_FIELD;
  private changed = false;

  constructor(options: ForensicsOptions = {}) {
    this.heap = 0;
    this.recent = options.noRecentGrowth === true ? undefined : new RecentGrowth(options.lastNs ?? DEFAULT_LAST_NS, this.marks);
  }

  begin(context: ReplayContext): void {
    this.lifetimes.begin(context);
    this.reallocs.begin(context);
    // Both read the replay's live columns rather than adding up their own (marker() below stops them).
    this.recent?.begin(context);
    this.series.begin(context);
    this.live = context.sites.columns;
  }

  header(h: CaptureHeader): void {
    this.gcFrees.header(h);
  }

  change(site: SiteId, seq: number, bytes: number, count: number, thread: ThreadIndex, index: number, allocator: number): void {
    if (this.stopped) return;
    if (this.live === undefined) {
      // No replay's columns to read (begin() not called: unit tests): each observer on its own.
      this.recent?.change(site, seq, bytes, count);
      this.series.change(site, seq, bytes, count);
    } else {
      this.heap += bytes;
      this.changed = true;
      if (site >= this.room) this.grow(site + 1);
      const marks = this.marks.array;
      const m = marks[site]!;
      if ((m & CHANGED) === 0) {
        marks[site] = m | CHANGED;
        if (this.nChanged === this.changedSites.length) this.changedSites = grownTo(this.changedSites, this.nChanged + 1, newInt32Array);
        this.changedSites[this.nChanged++] = site;
      } else if ((m & (SERIES_HELD | RECENT_HELD)) === 0 && (bytes < 0 || count < 0) && this.live.liveBytes.array[site] === 0 && this.live.liveCount.array[site] === 0) {
        // Back at 0, and neither observer holds a value other than 0 for it: nothing to tell them unless it
        // changes again. Taken off the list when it is the last entry, with the entries before it whose marks
        // are clear (sites back at 0 earlier: a chain of calls freed in the order it allocated, call_sites'
        // dicts); else its entry stays, passed over (RecentGrowth.change() did the same with its own list).
        marks[site] = m & ~CHANGED;
        const list = this.changedSites;
        let n = this.nChanged;
        while (n > 0 && (marks[list[n - 1]!]! & CHANGED) === 0) n--;
        this.nChanged = n;
      }
    }
    if (bytes < 0 || count < 0) this.gcFrees.change(site, seq, bytes, count); // it keeps frees only
    this.lifetimes.change(site, seq, bytes, count, thread, index);
    this.reallocs.change(site, seq, bytes, count, thread, index, allocator);
  }

  snapshot(seq: number, timeNs: number): void {
    if (this.stopped) return;
    this.drain();
    this.recent?.snapshot(seq, timeNs);
    this.lifetimes.snapshot(seq, timeNs);
    this.series.snapshot(seq, timeNs);
  }

  /**
   * Hands the sites changed since the last snapshot to RecentGrowth and LiveSeries, each only those its next
   * tick has something to do with (what their own change() would have listed and left listed): a site not at
   * 0, or one whose last value there was not 0 (the HELD bits), and not listed already.
   */
  private drain(): void {
    const live = this.live;
    if (live === undefined) return;
    const recent = this.recent;
    recent?.caughtUp(this.heap, this.changed);
    if (this.changed) this.series.changedSince();
    this.changed = false;
    const n = this.nChanged;
    this.nChanged = 0;
    if (n === 0) return;
    const list = this.changedSites;
    const bytes = live.liveBytes.array;
    const count = live.liveCount.array;
    const series = this.series;
    // Every listed site has room in `marks` (change()): listSite() grows it no further.
    const marks = this.marks.array;
    for (let i = 0; i < n; i++) {
      const site = list[i]! as SiteId;
      let m = marks[site]!;
      // Back at 0 after its entry was made (and listed again later, or left in the middle of the list).
      if ((m & CHANGED) === 0) continue;
      m &= ~CHANGED;
      const held = bytes[site] !== 0 || count[site] !== 0;
      if ((held || (m & SERIES_HELD) !== 0) && (m & SERIES_DIRTY) === 0) {
        m |= SERIES_DIRTY;
        series.listSite(site);
      }
      if (recent !== undefined && (held || (m & RECENT_HELD) !== 0) && (m & RECENT_DIRTY) === 0) {
        m |= RECENT_DIRTY;
        recent.listSite(site);
      }
      marks[site] = m;
    }
  }

  private grow(n: number): void {
    this.marks.ensure(n);
    this.room = this.marks.array.length;
  }

  gc(record: GcRecord): void {
    if (this.stoppedAt !== undefined) return;
    this.gcFrees.gc(record);
  }

  gcStart(seq: number): void {
    if (this.stoppedAt !== undefined) return;
    this.gcFrees.gcStart(seq);
  }

  /** The program's end: a last tick closes here, and nothing after it counts (memlens's release). */
  marker(record: MarkerRecord): void {
    if (this.stoppedAt !== undefined || !isProgramEndMarker(record)) return;
    this.snapshot(record.seq, record.timeNs);
    // The series' last tick reads the live values now: the replay's columns go on past this point.
    this.series.stop();
    this.stoppedAt = { seq: record.seq, timeNs: record.timeNs };
    this.stopped = true;
  }

  checkpoint(record: CheckpointRecord): void {
    if (this.stoppedAt !== undefined) return;
    if (this.live !== undefined) {
      // An aggregated capture (LiveSeries keeps columns of its own from here): each observer's change() from
      // now on, as for a replay whose columns cannot be read, after what was listed so far.
      this.drain();
      this.live = undefined;
    }
    this.recent?.checkpoint(record);
    this.series.checkpoint(record);
  }

  resolveCheckpoints(siteOf: (entry: CheckpointEntry) => SiteId): void {
    this.recent?.resolveCheckpoints(siteOf);
    this.series.resolveCheckpoints(siteOf);
  }

  /** Entries in the list of the sites changed since the last snapshot (for tests). */
  get listed(): number {
    return this.nChanged;
  }

  /** Call once, after the model is built. */
  finish(): ForensicFacts {
    // The changes since the last snapshot (none after the program's end: stop()).
    if (!this.stopped) this.drain();
    return {
      recent: this.recent?.finish(),
      gcFrees: this.gcFrees.finish(),
      lifetimes: this.lifetimes.finish(),
      reallocs: this.reallocs.finish(),
      series: this.series.finish(),
      stoppedAt: this.stoppedAt,
    };
  }
}
