// What every finding has, and what every detector is given. A finding is a pattern in a capture that
// costs memory and that the program can change, with its evidence (stacks, bytes, counts, times) and
// what to do; a finding without evidence is never made.

import type { FrameFilter } from '../../model/frames.js';
import type { FrameId } from '../../model/ids.js';
import type { CaptureModel } from '../../model/model.js';
import type { CaptureCensus } from '../capture-census.js';
import type { ForensicFacts } from '../forensics.js';
import type { GcReport } from '../gc.js';
import type { GroupSeries } from '../live-series.js';
import type { LineGroup } from './line-groups.js';

/**
 * Memory below this is never worth a finding: an OOM is made of tens or hundreds of MiB, and a few MiB
 * is the noise of a Python process (imports alone take 10–30 MiB).
 */
export const MIN_FINDING_BYTES = 4 << 20;
/** …nor below this share of the peak tracked heap (in a process of many GiB, 4 MiB is noise too). */
export const MIN_FINDING_SHARE = 0.01;

/** Evidence rows kept per finding (the biggest). */
export const EVIDENCE_ROWS = 5;

export interface FindingCommon {
  readonly title: string;
  /** What to do about it, in a sentence or two a user can act on. */
  readonly advice: string;
  /** The memory the finding is about (ranks findings); 0 when it is about counts. */
  readonly bytes: number;
  /**
   * The lines of the program's own code it is about (line-groups.ts), all of them, not only those shown:
   * a later detector leaves them to this one, so that one cause is one finding. Empty when it is not about
   * lines (threads, processes).
   */
  readonly lines: readonly (FrameId | -1)[];
}

/** The climb detectors' candidates (accumulation.ts lineCandidates()): lines live at the end at least minBytes, not made by importing a library, claimed or not, and their series. */
export interface LineCandidates {
  readonly groups: readonly LineGroup[];
  /** series[i] is groups[i]'s. */
  readonly series: readonly GroupSeries[];
}

/** What a detector is given. */
export interface DetectorInput {
  readonly model: CaptureModel;
  /** Facts gathered during the replay (forensics.ts); undefined when the caller did not gather them. */
  readonly facts: ForensicFacts | undefined;
  readonly filter: FrameFilter;
  /** Memory below this is not worth a finding: MIN_FINDING_BYTES, or MIN_FINDING_SHARE of the peak if more. */
  readonly minBytes: number;
  /** The GC report (made on first use, once; given by the caller when it has it already). */
  gc(): GcReport;
  /** The capture's census (capture-census.ts), read on first use; undefined when it has none. */
  census(): CaptureCensus | undefined;
  /**
   * The lines the climb detectors (accumulation, growing collection) weigh, claimed or not, with their series
   * (accumulation.ts lineCandidates()): made on first use, once. Grouping every site by its own line is 50-70 ms
   * on a capture of millions of sites, and both detectors need the same groups.
   */
  lineCandidates(): LineCandidates;
  /** Lines that findings of earlier detectors are about (FindingCommon.lines): leave them out. */
  readonly claimed: ReadonlySet<FrameId | -1>;
}

export { isOwnCode } from '../own-code.js';
