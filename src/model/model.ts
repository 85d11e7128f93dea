// The read-only result of reading one capture: what every analysis in src/analysis is a function of.
// Built once by ModelBuilder (builder.ts) from the decoded, seq-ordered stream. Read-only in its types:
// the builder fills mutable tables; the model hands out read-only views of them (ModelBuilder.current()
// shares them with a builder that goes on, which is why they are views and not copies).

import type {
  CaptureHeader,
  DecodeWarning,
  ExitRecord,
  GcRecord,
  GcStateRecord,
  MarkerRecord,
  NoteRecord,
  TrailerRecord,
  AgentStatsRecord,
  ForkRecord,
  CensusRecord,
  SnapshotRecord,
  PressureRecord,
} from '../capture/records.js';
import type { ReadonlyFrameTable } from './frames.js';
import type { LateImage } from './images.js';
import type { ImpossibleValue } from './value-bounds.js';
import type { StreamId, ThreadIndex } from './ids.js';
import type { Sampling } from './sampling.js';
import type { ReadonlyFloat64Array, ReadonlySiteTable } from './site-table.js';

export interface ThreadInfo {
  /** Dense index (0, 1, …) used in sites. */
  readonly index: ThreadIndex;
  readonly stream: StreamId;
  readonly osTid: number;
  readonly pythonIdent: number;
  readonly name: string;
  readonly startNs: number | undefined;
  readonly exitNs: number | undefined;
  /**
   * A name the thread took later (prctl, pthread_setname_np, `Thread.name =`): this entry holds what it
   * allocated from `renamedAtNs` on, under that name; `renamedFrom` is the thread's first entry (which has
   * its lifetime). Undefined for a thread's first entry.
   */
  readonly renamedFrom: ThreadIndex | undefined;
  readonly renamedAtNs: number | undefined;
}

/**
 * The memory snapshot series: the SNAPSHOT records' fields, column-wise. `heap` is recorded (aggregated)
 * or computed from events. Where a record has no value: NaN (`swap` the agent could not read, `cgroupUsage`
 * and `cgroupLimit` absent); `cgroupLimit` 0 means "no limit".
 */
export type SnapshotSeries = { readonly [K in Exclude<keyof SnapshotRecord, 'type' | 'stream'>]: readonly number[] };

/** Things that did not add up while replaying the events: counted, never fatal. */
export interface ReplayAnomalies {
  /** FREE of an address that was not live (allocated before tracking started, or lost to damage). */
  readonly unknownFrees: number;
  /** ALLOC at an address already live: the free was missed. The older allocation was dropped. */
  readonly missedFrees: number;
  /** PyTraceMalloc_Track of memory already live as a native allocation: not counted twice. */
  readonly duplicateTracks: number;
  /** Events that referenced a stack node never defined (lost to damage). */
  readonly unknownStacks: number;
  /** Events delivered out of seq order (the reader did not order them). */
  readonly outOfOrder: number;
  /** Snapshots that arrived after events with a higher seq: their heap is approximate. */
  readonly lateSnapshots: number;
  /** Code objects whose line table could not be read (a kind this memlens does not know): their frames
   * show the code's first line. */
  readonly unreadableLineTables: number;
  /** Records left out because they held a value no process can have (value-bounds.ts). */
  readonly impossibleValues: number;
  /** The first of them, for the report's note. */
  readonly firstImpossible: ImpossibleValue | undefined;
}

/** The window the peak was searched in (all of the capture by default). */
export interface PeakWindow {
  /** First seq inside; 0 for the start of the capture. */
  readonly fromSeq: number;
  /** First seq after the window; Infinity for the end. */
  readonly toSeq: number;
  readonly fromNs: number | undefined;
  readonly toNs: number | undefined;
}

export interface CaptureModel {
  readonly header: CaptureHeader;
  /** The capture is aggregated: per-site totals only, no individual events. */
  readonly aggregated: boolean;
  readonly nativeStacks: boolean;
  /**
   * A sampled capture (docs/sampling.md): every count and byte total below is an estimate, each recorded
   * allocation weighed by how many it stands for. Undefined: every allocation was recorded.
   */
  readonly sampling: Sampling | undefined;
  readonly sites: ReadonlySiteTable;
  readonly frames: ReadonlyFrameTable;
  readonly threads: readonly ThreadInfo[];

  readonly allocations: number;
  readonly frees: number;
  readonly bytesAllocated: number;
  /** Heap (tracked bytes) when tracking ended. */
  readonly endHeap: number;
  readonly endLiveCount: number;
  /** Highest heap over the whole capture, and the seq of the event that reached it. */
  readonly maxHeap: number;
  readonly maxHeapSeq: number;
  /** The peak searched for the per-site peak columns (the max heap, unless a window was asked for). */
  readonly peakHeap: number;
  readonly peakSeq: number;
  /** The peak was found (false when the asked window holds no event). */
  readonly peakFound: boolean;
  readonly window: PeakWindow | undefined;
  /** Temporary-allocation threshold used when replaying (undefined: not computed). */
  readonly temporaryThreshold: number | undefined;
  readonly lastSeq: number;

  /** Allocation counts by size: bucket 0 holds size 0, bucket k ≥ 1 sizes in [2^(k-1), 2^k). */
  readonly sizeHistogram: ReadonlyFloat64Array;
  readonly minSize: number;
  readonly maxSize: number;
  /** Per Allocator (format.ts), count and bytes. */
  readonly allocatorCounts: ReadonlyFloat64Array;
  readonly allocatorBytes: ReadonlyFloat64Array;

  readonly snapshots: SnapshotSeries;
  readonly markers: readonly MarkerRecord[];
  readonly gcs: readonly GcRecord[];
  /** The collector's settings: at start and whenever enabled, the freeze count or a threshold changed. */
  readonly gcStates: readonly GcStateRecord[];
  readonly forks: readonly ForkRecord[];
  readonly notes: readonly NoteRecord[];
  /** Censuses of live Python objects taken in the process (near OOM, on growth, on request). */
  readonly censuses: readonly CensusRecord[];
  /** Memory pressure (PSI) as the kernel reported it, when it changed; src/analysis/memory-pressure.ts reads it. */
  readonly pressure: readonly PressureRecord[];
  /** Images loaded after the start (IMAGE records after the marker of tracking started or attached), in load order. */
  readonly lateImages: readonly LateImage[];
  readonly trailer: TrailerRecord | undefined;
  readonly exit: ExitRecord | undefined;
  readonly agentStats: AgentStatsRecord | undefined;
  readonly warnings: readonly DecodeWarning[];
  readonly anomalies: ReplayAnomalies;
  /** Latest time seen in any record (ns since tracking started): the capture's duration. */
  readonly durationNs: number;
}
