// The facts the verdict, the findings and the GC report need beyond the model's end state, gathered in
// the same replay (one ReplayObserver, given to the model builder): what grew in the last seconds, what
// the collector freed, how long large allocations lived, blocks grown by realloc, and each site's live
// memory over the run. All of them stop at the program's end (program-end.ts): what memlens releases after
// it is not the program's behaviour.

import type { CaptureHeader, CheckpointEntry, CheckpointRecord, GcRecord, MarkerRecord } from '../capture/records.js';
import type { SiteId, ThreadIndex } from '../model/ids.js';
import { ChangeGate, type ReplayContext, type ReplayObserver } from '../model/replay-observer.js';
import { GcFrees, type GcFreesResult } from './gc-frees.js';
import { LARGE_ALLOCATION_BYTES, LargeLifetimes, type LifetimesResult } from './large-lifetimes.js';
import { LiveSeries, type LiveSeriesResult, RECENT_DIRTY, RECENT_HELD, SERIES_DIRTY, SERIES_HELD, SiteMarks } from './live-series.js';
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
  /** RecentGrowth's and LiveSeries' marks of each site in one byte (live-series.ts). */
  private readonly marks = new SiteMarks();
  /**
   * The replay's gate (replay-observer.ts): no call for an event at a site both list already (its mark has
   * their "dirty" bits; for a free, their "held" bits too, else they may take it off their lists), that no
   * other observer needs: an allocation below LargeLifetimes' size while no frame is watched or at a site it
   * checked already (LIFETIMES_CHECKED), a free below its
   * size (or any while no large allocation is live) outside GcFrees' collections. ReallocGrowth's last free per
   * thread is kept by the replay then, GcFrees' highest dropped seq too, RecentGrowth's heap is the replay's.
   * Closed after each snapshot until the next change (RecentGrowth's `changed`) and for the rest of a tick
   * (whenever the state the gate depends on changes, regate() runs).
   */
  readonly gate = new ChangeGate(this.marks);
  /** Keeps LIFETIMES_CHECKED in the marks: allocations at sites whose stacks it checked need no call. */
  private readonly lifetimes = new LargeLifetimes(this.marks);
  private readonly reallocs = new ReallocGrowth(this.gate);
  private readonly series = new LiveSeries({ marks: this.marks });
  private stoppedAt: { seq: number; timeNs: number } | undefined;
  /** The gate was last set with RecentGrowth having seen a change since the last snapshot, and this LargeLifetimes version. */
  private open = false;
  private lifetimesVersion = -1;
  private readonly allocMask: number;
  private readonly freeMask: number;

  constructor(options: ForensicsOptions = {}) {
    this.recent = options.noRecentGrowth === true ? undefined : new RecentGrowth(options.lastNs ?? DEFAULT_LAST_NS, this.marks, this.gate);
    this.allocMask = this.recent === undefined ? SERIES_DIRTY : SERIES_DIRTY | RECENT_DIRTY;
    this.freeMask = this.recent === undefined ? SERIES_DIRTY | SERIES_HELD : SERIES_DIRTY | SERIES_HELD | RECENT_DIRTY | RECENT_HELD;
    this.gate.close();
  }

  /** Sets the gate from the observers' state (see `gate`). */
  private regate(): void {
    const g = this.gate;
    if (this.stoppedAt !== undefined) {
      // change() returns at once: nothing is needed (a site past the marks' end is still passed on).
      g.allocMask = g.freeMask = 0;
      g.allocBelow = g.freeBelow = Infinity;
      g.freeFromSeq = -Infinity;
      return;
    }
    this.lifetimesVersion = this.lifetimes.version;
    this.open = this.recent === undefined || this.recent.changedSinceSnapshot;
    if (!this.open) {
      g.close();
      return;
    }
    g.allocMask = this.allocMask | this.lifetimes.allocsMark;
    g.freeMask = this.freeMask;
    g.allocBelow = this.lifetimes.allocsFrom;
    g.freeBelow = this.lifetimes.freesFrom;
    g.freeFromSeq = this.gcFrees.dropsFrom;
  }

  begin(context: ReplayContext): void {
    this.lifetimes.begin(context);
    this.reallocs.begin(context);
    // Both read the replay's live columns rather than adding up their own (marker() below stops them).
    this.recent?.begin(context);
    this.series.begin(context);
  }

  header(h: CaptureHeader): void {
    this.gcFrees.header(h);
    this.regate();
  }

  change(site: SiteId, seq: number, bytes: number, count: number, thread: ThreadIndex, index: number): void {
    if (this.stoppedAt !== undefined) return;
    this.recent?.change(site, seq, bytes, count);
    if (bytes < 0 || count < 0) this.gcFrees.change(site, seq, bytes, count); // it keeps frees only
    this.lifetimes.change(site, seq, bytes, count, thread, index);
    this.reallocs.change(site, seq, bytes, count, thread);
    this.series.change(site, seq, bytes, count);
    if (!this.open || this.lifetimes.version !== this.lifetimesVersion) this.regate();
  }

  snapshot(seq: number, timeNs: number): void {
    if (this.stoppedAt !== undefined) return;
    this.recent?.snapshot(seq, timeNs);
    this.lifetimes.snapshot(seq, timeNs);
    this.series.snapshot(seq, timeNs);
    this.regate();
  }

  gc(record: GcRecord): void {
    if (this.stoppedAt !== undefined) return;
    // The frees the replay left out since the last GC record were all dropped (their seq at or past dropsFrom).
    this.gcFrees.droppedAt(this.gate.skippedFreeSeq);
    this.gate.skippedFreeSeq = -1;
    this.gcFrees.gc(record);
    this.regate();
  }

  gcStart(seq: number): void {
    if (this.stoppedAt !== undefined) return;
    this.gcFrees.gcStart(seq);
    this.regate();
  }

  /** The program's end: a last tick closes here, and nothing after it counts (memlens's release). */
  marker(record: MarkerRecord): void {
    if (this.stoppedAt !== undefined || !isProgramEndMarker(record)) return;
    this.snapshot(record.seq, record.timeNs);
    // The series' last tick reads the live values now: the replay's columns go on past this point.
    this.series.stop();
    this.stoppedAt = { seq: record.seq, timeNs: record.timeNs };
    this.regate();
  }

  checkpoint(record: CheckpointRecord): void {
    if (this.stoppedAt !== undefined) return;
    this.recent?.checkpoint(record);
    this.series.checkpoint(record);
  }

  resolveCheckpoints(siteOf: (entry: CheckpointEntry) => SiteId): void {
    this.recent?.resolveCheckpoints(siteOf);
    this.series.resolveCheckpoints(siteOf);
  }

  /** Call once, after the model is built. */
  finish(): ForensicFacts {
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
