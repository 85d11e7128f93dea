// The high-water mark: the moment the tracked heap was largest (inside the asked window, if any), and the
// allocations live at that moment. The replay (model/heap-replay.ts) finds it exactly; this names it.

import { MissingDataError } from '../errors.js';
import type { CaptureModel } from '../model/model.js';
import { type AllocationSet, peakAmounts } from './allocation-set.js';

export interface HighWaterMark extends AllocationSet {
  readonly kind: 'peak';
  readonly heap: number;
  /** The event after which the heap was at its peak. */
  readonly seq: number;
  /** Approximate time of the peak (ns since tracking started), from the snapshots around it. */
  readonly timeNs: number | undefined;
}

export function highWaterMark(model: CaptureModel): HighWaterMark {
  if (!model.peakFound) {
    const w = model.window;
    throw new MissingDataError(
      w?.fromNs !== undefined ? `the capture has no memory snapshot at or after ${formatSeconds(w.fromNs)}: the window starts after tracking ended` : 'the capture holds no peak to show',
      { hint: 'Choose a window inside the capture (see the timeline in memlens stats).' },
    );
  }
  const set = peakAmounts(model);
  // Not a spread, which would read `sites` and make an object per site (allocation-set.ts).
  return Object.assign(set, { kind: 'peak' as const, heap: model.peakHeap, seq: model.peakSeq, timeNs: timeOfSeq(model, model.peakSeq) });
}

/**
 * Time of the moment after event `seq`: the time of the first snapshot taken after it (events carry no
 * time of their own). Undefined without snapshots after it.
 */
export function timeOfSeq(model: CaptureModel, seq: number): number | undefined {
  const seqs = model.snapshots.seq;
  let lo = 0;
  let hi = seqs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (seqs[mid]! <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo < seqs.length ? model.snapshots.timeNs[lo] : undefined;
}

function formatSeconds(ns: number): string {
  return `${(ns / 1e9).toFixed(3)} s`;
}
