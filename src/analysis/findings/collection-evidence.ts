// The evidence that a line's objects are the entries of a collection that only grows (growing-collection.ts
// reports it), told apart from the steady climb of accumulation.ts, which the accumulation finding checks
// too: a line can be both, and which of the two findings names it can depend on how fast the machine ran the
// program's parts (retained-growth.ts PACE_RATIO). Where it does, either finding says both (PACE_BOTH_TEXT).
// Pure: it imports neither detector, so that each can ask it about the other's evidence.

import type { ProgramClock } from '../memlens-pauses.js';
import { type RetainedGrowth, retainedGrowthOn } from './retained-growth.js';

/** Objects live at the end at least: a collection of entries, not a few big buffers (large-objects-kept.ts). */
export const COLLECTION_MIN_ITEMS = 100;
/** Of what is live at the end, this share at least was added during the capture and never given back. */
export const COLLECTION_KEPT_SHARE = 0.9;
/** The count rose at this many samples at least: entries added over time, not built in one go. */
export const COLLECTION_MIN_RISES = 4;
/** The last addition came in the last this share of the line's active time: it was still growing. */
export const COLLECTION_STILL_GROWING_SHARE = 0.25;

/**
 * The two findings' titles and advice in one, for a line that is a collection that only grows and whose
 * climb reads as steady at one pace of the machine and not at another: the same cause, and the capture
 * cannot say which of the two shapes the program has apart from the machine's speed.
 */
export const PACE_BOTH_TEXT = {
  title: 'Memory accumulated and was never freed: a cache or collection that only grows',
  advice:
    'Bound it: give the cache a maximum size and evict (functools.lru_cache(maxsize=N), an OrderedDict trimmed with popitem(last=False), a TTL), key it by something with few values (not by request, user or time), remove entries when their work is done (del registry[key], unregister callbacks), or hold values that others own through weakref.WeakValueDictionary so they go when nothing else uses them; delete what is no longer needed (del obj; gc.collect() if they are in reference cycles).',
} as const;

/**
 * The entries a line added over the capture and kept, when they make it a collection that only grows:
 * `liveCount` objects live at the end (at least COLLECTION_MIN_ITEMS), the count's floor risen by nearly all
 * of them at COLLECTION_MIN_RISES samples or more, the last of them late in the line's active time.
 * `timeNs` and `count` are the line's count series (live-series.ts), measured up to `untilNs`.
 */
export function collectionKept(clock: ProgramClock, timeNs: ArrayLike<number>, count: ArrayLike<number>, liveCount: number, untilNs: number): (RetainedGrowth & { readonly pausedNs: number }) | undefined {
  if (liveCount < COLLECTION_MIN_ITEMS) return undefined;
  const kept = retainedGrowthOn(clock, timeNs, count, untilNs);
  if (kept === undefined || kept.bytes < COLLECTION_KEPT_SHARE * liveCount || kept.rises < COLLECTION_MIN_RISES) return undefined;
  if (clock.toProgram(kept.lastRiseNs) < clock.toProgram(kept.toNs) - COLLECTION_STILL_GROWING_SHARE * (kept.toNs - kept.fromNs - kept.pausedNs)) return undefined;
  return kept;
}
