// Leaks: allocations still live when tracking ended. In attach mode these include nothing allocated
// before the attach (those were never seen), and with pymalloc most small objects sit in arenas, so a
// report says so (see caveats()).

import { OPTION_PYTHON_ALLOCATORS } from '../capture/format.js';
import type { CaptureModel } from '../model/model.js';
import { type AllocationSet, siteAmounts } from './allocation-set.js';

export interface Leaks extends AllocationSet {
  readonly kind: 'leaks';
  /** Notes a reader of a leak report needs (pymalloc hides small objects in arenas, and so on). */
  readonly caveats: readonly string[];
}

export function leaks(model: CaptureModel): Leaks {
  const set = siteAmounts(model, 'leaks', 'liveBytes', 'liveCount');
  // Not a spread, which would read `sites` and make an object per site (allocation-set.ts).
  return Object.assign(set, { kind: 'leaks' as const, caveats: caveats(model) });
}

function caveats(model: CaptureModel): string[] {
  const out: string[] = [];
  const allocator = model.header.pythonAllocator;
  const tracesPython = (model.header.options & OPTION_PYTHON_ALLOCATORS) !== 0;
  if (allocator === 'pymalloc' && !tracesPython) {
    out.push(
      'Python used pymalloc: small objects live in arenas that pymalloc keeps, so they show as arena allocations. ' + 'Run with PYTHONMALLOC=malloc or trace Python allocators for object-level leaks.',
    );
  }
  if (model.trailer === undefined && model.exit !== undefined && model.exit.signal !== 0) {
    out.push('The process was killed before tracking ended: "leaked" means "live when it died".');
  }
  return out;
}
