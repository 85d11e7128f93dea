// Findings: patterns in a capture that cost memory and that three well-known pieces of advice for
// Python programs address: free large objects promptly; pool threads, processes and connections instead
// of making one per task; avoid growing collections step by step. Plus what the advice implies: memory
// that accumulates, caches that only grow, one allocation too big to make whole (process in chunks),
// reference cycles that held memory until the collector ran, freed memory the process kept. One module per detector, each with its thresholds and why they have their
// values; this one runs them all.
//
// A detector is a function of DetectorInput (finding.ts) that returns its findings, none without
// evidence. To add one: a module beside these, its Finding type in the union below, its function in
// DETECTORS, and a test file beside it. Detectors run in the order of DETECTORS; the lines of the
// program's code that a finding is about (FindingCommon.lines) are left out by the detectors after it, so
// one cause is one finding, told by the detector with the strongest evidence (a steady climb first).

import { DEFAULT_FRAME_FILTER, type FrameFilter } from '../../model/frames.js';
import type { FrameId } from '../../model/ids.js';
import type { CaptureModel } from '../../model/model.js';
import { type CaptureCensus, captureCensus } from '../capture-census.js';
import type { ForensicFacts } from '../forensics.js';
import { type GcReport, gcReport } from '../gc.js';
import { MODE_ATTACH } from '../../capture/format.js';
import { memoryLimitOf } from '../memory-limit.js';
import { modelAtProgramEnd, programEndOf } from '../program-end.js';
import { type AccumulationFinding, accumulation, ACCUMULATION_MIN_RISES, lineCandidates } from './accumulation.js';
import { type CollectionGrowthFinding, collectionGrowth } from './collection-growth.js';
import { type DetectorInput, type LineCandidates, MIN_FINDING_BYTES, MIN_FINDING_SHARE } from './finding.js';
import { type FreedNotReturnedFinding, freedNotReturned } from './freed-not-returned.js';
import { type GcCyclesFinding, gcCycles } from './gc-cycles.js';
import { type GrowingCollectionFinding, growingCollection } from './growing-collection.js';
import { type HugeAllocationFinding, hugeAllocation } from './huge-allocation.js';
import { type LargeObjectsKeptFinding, largeObjectsKept } from './large-objects-kept.js';
import { type ProcessChurnFinding, processChurn } from './process-churn.js';
import { type ThreadFinding, threadFindings } from './thread-churn.js';
import { outgrown } from '../../util/outgrown.js';

export type { FindingCommon } from './finding.js';
export { EVIDENCE_ROWS, MIN_FINDING_BYTES, MIN_FINDING_SHARE } from './finding.js';
export { type AccumulationItem, ACCUMULATION_MIN_RISES } from './accumulation.js';
export { GROWTH_MIN_BYTES, GROWTH_MIN_EVENTS, type GrowthItem } from './collection-growth.js';
export { type CollectionItem, COLLECTION_MIN_ITEMS } from './growing-collection.js';
export { HUGE_SHARE_OF_LIMIT } from './huge-allocation.js';
export { HELD_BACK_MIN_SHARE } from './freed-not-returned.js';
export { KEPT_AT_END_SHARE, KEPT_MOST_OF_RUN_SHARE, KEPT_REPEATED_MIN, type KeptItem } from './large-objects-kept.js';
export { FORK_CHURN_MIN } from './process-churn.js';
export { isMainThread, MANY_THREADS_MIN, THREAD_CHURN_MIN, threadEvidence, type ThreadEvidence } from './thread-churn.js';

export type Finding =
  | AccumulationFinding
  | GrowingCollectionFinding
  | LargeObjectsKeptFinding
  | HugeAllocationFinding
  | FreedNotReturnedFinding
  | ThreadFinding
  | ProcessChurnFinding
  | CollectionGrowthFinding
  | GcCyclesFinding;

export type FindingKind = Finding['kind'];

export type Detector = (input: DetectorInput) => readonly Finding[];

/** Every detector, in the order their findings are listed when they weigh the same (count findings: 0 bytes). */
export const DETECTORS: readonly Detector[] = [accumulation, growingCollection, largeObjectsKept, hugeAllocation, collectionGrowth, gcCycles, freedNotReturned, threadFindings, processChurn];

export interface FindingsOptions {
  readonly filter?: FrameFilter | undefined;
  /** The GC report, when the caller has it already. */
  readonly gc?: GcReport | undefined;
  /** The capture's census, when the caller has read it already (null: it has none). */
  readonly census?: CaptureCensus | null | undefined;
  /**
   * The model at the program's end (program-end.ts modelAtProgramEnd of the capture, facts.series and its
   * program end), when the caller made it already: its two columns of every site are 16 bytes a site (40 MiB on
   * call_sites), and the verdict, which needs it for the last seconds too, made it twice.
   */
  readonly atEnd?: CaptureModel | undefined;
}

/** The findings of a capture, largest memory first, then the ones about counts. */
export function findings(capture: CaptureModel, facts: ForensicFacts | undefined, options: FindingsOptions = {}): Finding[] {
  const out = detectAll(capture, facts, options);
  // What the detectors made for every site (the model at the program's end, 16 bytes a site; the candidate
  // lines' index, 4; the GC report's stacks, 4 a Python node) is garbage now, and old enough to wait for a full
  // collection, which a report seldom gets before it ends: the summary's stacks were made beside it, up to
  // ~57 MiB more at its peak on call_sites (docs/benchmarks.md, round twenty-six). A collection here, once a
  // report (a few milliseconds: the heap is small, the arrays' contents are not scanned), when that much was made.
  // Given the model at the program's end, the caller holds the most of it and collects after (verdict.ts).
  if (options.atEnd === undefined) outgrown((facts?.stoppedAt !== undefined ? 20 : 4) * capture.sites.size + 4 * capture.frames.pyNodeCount);
  return out;
}

/** findings() but the collection after it: what the detectors made is unreachable once this returns. */
function detectAll(capture: CaptureModel, facts: ForensicFacts | undefined, options: FindingsOptions): Finding[] {
  // The detectors judge the program as it stood at its end (program-end.ts): what memlens released after it
  // (the script's module-level names) was still the program's.
  const model = facts?.stoppedAt === undefined ? capture : (options.atEnd ?? modelAtProgramEnd(capture, facts.series, programEndOf(capture)));
  const filter = options.filter ?? DEFAULT_FRAME_FILTER;
  let gc = options.gc;
  // undefined: not read yet; null: read, the capture has none.
  let census: CaptureCensus | null | undefined = options.census;
  const claimed = new Set<FrameId | -1>();
  const minBytes = Math.max(MIN_FINDING_BYTES, MIN_FINDING_SHARE * model.maxHeap);
  let candidates: LineCandidates | undefined;
  const input: DetectorInput = {
    model,
    facts,
    filter,
    minBytes,
    lineCandidates: () => (candidates ??= lineCandidates(model, facts, filter, minBytes)),
    gc: () => (gc ??= gcReport(model, facts?.gcFrees, filter)),
    census: () => {
      if (census === undefined) census = captureCensus(model).census ?? null;
      return census ?? undefined;
    },
    claimed,
  };
  const out: Finding[] = [];
  for (const detect of DETECTORS) {
    for (const f of detect(input)) {
      out.push(f);
      for (const line of f.lines) claimed.add(line);
    }
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

/** Memory snapshots (or checkpoints) needed at least to see a climb: ACCUMULATION_MIN_RISES rises and a start. */
const MIN_SAMPLES = ACCUMULATION_MIN_RISES + 1;

/**
 * The findings a capture cannot show, and why: a report that found none must not say there are none where
 * it could not have seen them.
 */
export function findingsNotLookedFor(model: CaptureModel): { readonly what: string; readonly why: string }[] {
  const out: { what: string; why: string }[] = [];
  const samples = model.snapshots.timeNs.length; // an aggregated capture's checkpoints come with its snapshots
  if (samples < MIN_SAMPLES) {
    out.push({
      what: 'memory that accumulated, collections that only grew, large objects kept alive long, freed memory the process kept',
      why: samples === 0 ? 'the capture has no memory snapshot to place its events in time' : `the capture has only ${samples} memory snapshot${samples === 1 ? '' : 's'}: too short to see a climb`,
    });
  }
  if (model.aggregated) {
    out.push({
      what: 'large objects kept alive long, one huge allocation, collections grown by reallocation, reference cycles that held memory',
      why: 'an aggregated capture keeps totals per location, not each allocation',
    });
  }
  if (model.sampling !== undefined) {
    out.push({ what: 'collections grown by reallocation', why: "a sampled capture keeps a reallocation's free and its allocation each at random, not as a pair" });
  }
  if (!model.aggregated && memoryLimitOf(model) === undefined) out.push({ what: 'one huge allocation', why: 'no memory limit was recorded to measure it against' });
  if (model.header.mode === MODE_ATTACH && samples >= MIN_SAMPLES) out.push({ what: 'freed memory the process kept', why: 'after an attach the heap does not count what was allocated before it' });
  return out;
}
