// The contract between the replay (model/builder.ts, model/heap-replay.ts) and the analyses that follow
// it as it happens (analysis/peak-timeline.ts, analysis/forensics.ts, …): what they are told, in which order,
// and what they may read of the replay's tables meanwhile. Analyses import this, not the builder.

import type { CaptureHeader, CheckpointEntry, CheckpointRecord, GcRecord, MarkerRecord } from '../capture/records.js';
import type { PyNodeId1, SiteId, ThreadIndex } from './ids.js';
import type { ReadonlySiteTable } from './site-table.js';

/** ReplayObserver.change()'s `allocator` at a free. */
export const NO_ALLOCATOR = -1;

/** What an observer may read while the replay runs (the tables grow as it goes). */
export interface ReplayContext {
  readonly sites: ReadonlySiteTable;
  /** The parent of a Python stack node; NO_PY_NODE for an outermost frame. */
  pyParent(node: PyNodeId1): PyNodeId1;
  /** The code id of a Python stack node's frame (the code object's, as in CODE records). */
  pyCode(node: PyNodeId1): number;
}

/**
 * Follows the replay as it happens, for analyses that need more than the end state (analysis/peak-timeline.ts).
 * Calls come in seq order; the observer must not keep the builder busy (it is on the hot path).
 */
export interface ReplayObserver {
  /**
   * The observer reads `index` of frees only for allocations of at least this many bytes (a free of a
   * smaller one may pass 0): the replay then keeps fewer indexes (model/live-table.ts). Default 0: all.
   */
  readonly indexesFrom?: number;
  /** Called once, before any other call: what the observer may read of the replay's tables. */
  begin?(context: ReplayContext): void;
  /** The capture's header (as the model has it), before any record. */
  header?(header: CaptureHeader): void;
  /**
   * The live amount of `site` changed by `bytes` and `count` (negative for frees) at event `seq`. `thread`
   * is the site's thread index and `index` the allocation's number among that thread's allocations (1, 2,
   * …): the one just made, or the one being freed, so an observer can tell when a freed block was made.
   * `allocator`: an allocation's allocator (its site's, as `sites.allocator(site)` says, without reading the
   * site's keys, a line of their own); NO_ALLOCATOR at a free (not looked up).
   */
  change(site: SiteId, seq: number, bytes: number, count: number, thread: ThreadIndex, index: number, allocator: number): void;
  /** A memory snapshot: the events with a lower seq were replayed, none with a higher one (yet). */
  snapshot(seq: number, timeNs: number): void;
  /**
   * A GC record, as it arrives: every event with a lower seq was replayed (so the frees of the collection,
   * those with a seq in [startSeq, seq), were just seen), none with a higher one.
   */
  gc?(record: GcRecord): void;
  /**
   * A GC_START record (captures since 2026-12-05): a collection started at `seq` (its GC record's startSeq);
   * every event with a lower seq was replayed, none with a higher one.
   */
  gcStart?(seq: number): void;
  /**
   * A MARKER as it arrives: every event with a lower seq was replayed, none with a higher one (the
   * program's end, PROGRAM_END, is where the analyses of the program's own behaviour stop: program-end.ts).
   */
  marker?(record: MarkerRecord): void;
  /** Aggregated captures: a CHECKPOINT as it arrives (in seq order). Its entries name stream-local stacks. */
  checkpoint?(record: CheckpointRecord): void;
  /**
   * Aggregated captures, once at the end of the replay: the site of a checkpoint entry's location. Stacks
   * resolve only then, when every FRAME has arrived (a FRAME may come after the CHECKPOINT that uses it).
   */
  resolveCheckpoints?(siteOf: (entry: CheckpointEntry) => SiteId): void;
}
