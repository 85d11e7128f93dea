// A cache or collection that only grows: a line of the program made many objects over the run, one after
// another, and every one of them is still alive at the end: something keeps each entry it is given (a dict
// keyed by something unique per request, a list of results, a registry). The advice: bound it.
//
// Where accumulation.ts asks for a steady climb in time, this asks for many entries kept (count, not
// bytes), added at many moments, still being added near the end, and hardly any given back: the count's
// floor (retained-growth.ts) rose by nearly all of what is live at the end. A cache that fills up and then
// evicts (a bounded one) stops raising its floor once full, and a load that ends early is a plateau: both
// stay silent. Lines an accumulation finding is about are left to it.

import type { FrameId } from '../../model/ids.js';
import { type HeldAs, heldAs } from '../capture-census.js';
import { endingOf } from '../ending.js';
import { limitReachedNs } from '../memory-limit.js';
import { ACCUMULATION_MAX_HOLD_RATIO, ACCUMULATION_MAX_HOLD_RATIO_WENT_ON, candidateLines, climbAtPace, isArenas, isSteadyClimb, steadyClimbOf, valueAt } from './accumulation.js';
import { collectionKept, PACE_BOTH_TEXT } from './collection-evidence.js';
import { type DetectorInput, EVIDENCE_ROWS, type FindingCommon } from './finding.js';
import { programClockOf } from '../own-time.js';

export { COLLECTION_KEPT_SHARE, COLLECTION_MIN_ITEMS, COLLECTION_MIN_RISES, COLLECTION_STILL_GROWING_SHARE } from './collection-evidence.js';

export const GROWING_COLLECTION_TEXT = {
  title: 'A cache or collection that only grows',
  advice:
    'Bound it: give the cache a maximum size and evict (functools.lru_cache(maxsize=N), an OrderedDict trimmed with popitem(last=False), a TTL), key it by something with few values (not by request, user or time), remove entries when their work is done (del registry[key], unregister callbacks), or hold values that others own through weakref.WeakValueDictionary so they go when nothing else uses them.',
} as const;

export interface CollectionItem {
  readonly line: FrameId | -1;
  readonly leaf: FrameId | undefined;
  readonly frames: readonly FrameId[];
  /** Live at the end. */
  readonly bytes: number;
  readonly count: number;
  /** Objects added (and kept) over the capture, between these times. */
  readonly added: number;
  readonly fromNs: number;
  readonly lastAddedNs: number;
  readonly toNs: number;
  readonly heldAs: HeldAs | undefined;
  readonly arenas: boolean;
  /**
   * Its memory would read as a steady climb (accumulation.ts) had the part of the run before the middle of
   * its climb gone PACE_RATIO times faster than the rest (retained-growth.ts): which of the two findings
   * names this line depends on the machine's speed.
   */
  readonly alsoAccumulation: boolean;
}

export interface GrowingCollectionFinding extends FindingCommon {
  readonly kind: 'growing-collection';
  readonly items: readonly CollectionItem[];
  readonly census: { readonly timeNs: number; readonly label: string } | undefined;
}

export function growingCollection(input: DetectorInput): GrowingCollectionFinding[] {
  const { groups, series } = candidateLines(input);
  const census = input.census();
  const until = limitReachedNs(input.model) ?? Infinity; // the stall at the limit, as in accumulation.ts
  const clock = programClockOf(input.model); // memlens's pauses and own work, and the process held still, are not the program's
  const maxHold = endingOf(input.model).wentOn ? ACCUMULATION_MAX_HOLD_RATIO_WENT_ON : ACCUMULATION_MAX_HOLD_RATIO;
  const items: CollectionItem[] = [];
  groups.forEach((g, i) => {
    const s = series[i]!;
    const kept = collectionKept(clock, s.timeNs, s.count, g.liveCount, until);
    if (kept === undefined) return;
    // The accumulation detector left this line (it ran first): would it have taken it at another pace?
    const { growth, climb } = steadyClimbOf(clock, s, until);
    items.push({
      line: g.line,
      leaf: g.leaf,
      frames: g.frames,
      bytes: g.liveBytes,
      count: g.liveCount,
      added: kept.bytes,
      fromNs: kept.fromNs,
      lastAddedNs: kept.lastRiseNs,
      toNs: kept.toNs,
      heldAs: census === undefined ? undefined : heldAs(census.census, valueAt(s, census.timeNs)),
      arenas: isArenas(input.model, g),
      alsoAccumulation: isSteadyClimb(growth, climbAtPace(climb, 1), input.minBytes, clock, maxHold),
    });
  });
  if (items.length === 0) return [];
  items.sort((a, b) => b.bytes - a.bytes);
  return [
    {
      kind: 'growing-collection',
      ...(items.every((x) => x.alsoAccumulation) ? PACE_BOTH_TEXT : GROWING_COLLECTION_TEXT),
      bytes: items.reduce((a, x) => a + x.bytes, 0),
      lines: items.map((x) => x.line),
      items: items.slice(0, EVIDENCE_ROWS),
      census: census === undefined ? undefined : { timeNs: census.timeNs, label: census.label },
    },
  ];
}
