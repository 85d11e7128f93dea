// The allocations a report on one capture is about, as its options chose them (report-options.ts). Apart
// from report-options.ts, which every command's definition imports, so that the analysis modules load only
// when a report runs, not on `memlens run`'s way (docs/benchmarks.md, "Fixed cost").

import type { AllocationSet } from '../analysis/allocation-set.js';
import { highWaterMark } from '../analysis/high-water-mark.js';
import { leaks } from '../analysis/leaks.js';
import { temporaryAllocations } from '../analysis/temporary.js';
import { checkWindowSupported } from '../analysis/memory-timeline.js';
import type { CaptureModel } from '../model/model.js';
import type { SetSelection } from './report-options.js';

export function selectSet(model: CaptureModel, sel: SetSelection): AllocationSet {
  if (sel.window !== undefined) checkWindowSupported(model);
  if (sel.kind === 'temporary') return temporaryAllocations(model);
  if (sel.kind === 'leaks') return leaks(model);
  return highWaterMark(model);
}
