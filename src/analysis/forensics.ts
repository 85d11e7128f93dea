// The facts the verdict, the findings and the GC report need beyond the model's end state, gathered in
// the same replay (one ReplayObserver, given to the model builder): what grew in the last seconds, what
// the collector freed, how long large allocations lived, blocks grown by realloc, and each site's live
// memory over the run. All of them stop at the program's end (program-end.ts): what memlens releases after
// it is not the program's behaviour.

import type { CaptureHeader, CheckpointEntry, CheckpointRecord, GcRecord, MarkerRecord } from '../capture/records.js';
import type { SiteId, ThreadIndex } from '../model/ids.js';
import type { ReplayContext, ReplayObserver } from '../model/replay-observer.js';
import { GcFrees, type GcFreesResult } from './gc-frees.js';
import { LARGE_ALLOCATION_BYTES, LargeLifetimes, type LifetimesResult } from './large-lifetimes.js';
import { LiveSeries, type LiveSeriesResult, SiteMarks } from './live-series.js';
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

  constructor(options: ForensicsOptions = {}) {
    this.recent = options.noRecentGrowth === true ? undefined : new RecentGrowth(options.lastNs ?? DEFAULT_LAST_NS, this.marks);
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
  }

  change(site: SiteId, seq: number, bytes: number, count: number, thread: ThreadIndex, index: number, allocator: number): void {
    if (this.stoppedAt !== undefined) return;
    this.recent?.change(site, seq, bytes, count);
    if (bytes < 0 || count < 0) this.gcFrees.change(site, seq, bytes, count); // it keeps frees only
    this.lifetimes.change(site, seq, bytes, count, thread, index);
    this.reallocs.change(site, seq, bytes, count, thread, index, allocator);
    this.series.change(site, seq, bytes, count);
  }

  snapshot(seq: number, timeNs: number): void {
    if (this.stoppedAt !== undefined) return;
    this.recent?.snapshot(seq, timeNs);
    this.lifetimes.snapshot(seq, timeNs);
    this.series.snapshot(seq, timeNs);
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
