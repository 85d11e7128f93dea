// Temporary allocations: freed after at most N other allocations by the thread that made them (N = 1 for
// --temporary-allocations, as memray: a container that grows by reallocating shows up). The replay counts
// them per site when it is given the threshold; an aggregated capture has no individual events to count.

import { MissingDataError } from '../errors.js';
import type { CaptureModel } from '../model/model.js';
import { type AllocationSet, siteAmounts } from './allocation-set.js';

export interface TemporaryAllocations extends AllocationSet {
  readonly kind: 'temporary';
  readonly threshold: number;
}

export function temporaryAllocations(model: CaptureModel): TemporaryAllocations {
  if (model.aggregated) {
    throw new MissingDataError('an aggregated capture cannot show temporary allocations: it records totals per location, not each allocation and free', {
      hint: 'Capture again without --aggregate to see temporary allocations.',
    });
  }
  if (model.sampling !== undefined) {
    throw new MissingDataError('a sampled capture cannot show temporary allocations: "freed within N allocations" counts every allocation in between, and a sample has only some', {
      hint: 'Capture again without --sample to see temporary allocations.',
    });
  }
  if (model.temporaryThreshold === undefined) {
    throw new RangeError('the model was built without a temporary-allocation threshold');
  }
  const set = siteAmounts(model, 'temporary', 'tempBytes', 'tempCount');
  // Not a spread, which would read `sites` and make an object per site (allocation-set.ts).
  return Object.assign(set, { kind: 'temporary' as const, threshold: model.temporaryThreshold });
}
