// Memory the program freed that the process did not give back: the tracked heap fell from its peak, the
// anonymous RSS did not. The allocator keeps freed space for reuse, and space between objects that are
// still alive (fragmentation) cannot be returned at all: the process keeps its peak's size. The advice:
// keep long-lived objects apart from the short-lived ones, trim the allocator, keep the peak small.
//
// The evidence is the snapshots: anonymous RSS beyond the tracked heap, less what it was at the first
// (the interpreter's own: its stacks, arenas, the allocator's first chunks), held for several snapshots
// in a row, and the heap's fall from its peak so far, comparable to what is held.

import { MODE_ATTACH } from '../../capture/format.js';
import type { FrameFilter } from '../../model/frames.js';
import type { FrameId, SiteId } from '../../model/ids.js';
import type { CaptureModel } from '../../model/model.js';
import { type DetectorInput, EVIDENCE_ROWS, type FindingCommon } from './finding.js';
import { groupByOwnLine } from './line-groups.js';

/** What is held back is at least this share of the peak tracked heap (and the finding minimum). */
export const HELD_BACK_MIN_SHARE = 0.25;

export const FREED_NOT_RETURNED_TEXT = {
  title: 'Freed memory was not given back to the system (fragmentation)',
  advice:
    'The allocator cannot return space that lies between objects still alive: build what you keep apart from the temporary data (copy the survivors into a new container once the rest is gone, or make them first), process in smaller chunks so the peak, and the space left behind, stay small, and after freeing much call ctypes.CDLL("libc.so.6").malloc_trim(0); in a threaded program set MALLOC_ARENA_MAX=2.',
} as const;

export interface FreedNotReturnedFinding extends FindingCommon {
  readonly kind: 'freed-not-returned';
  /** At the snapshot that held back the most: anonymous RSS, tracked heap; the anonymous RSS beyond the heap at the first snapshot; the heap's peak before. */
  readonly timeNs: number;
  readonly rssAnon: number;
  readonly heap: number;
  readonly baseline: number;
  readonly peakHeap: number;
  /** The lines whose memory was freed since the peak, largest first (what left the holes). */
  readonly freed: readonly { readonly line: FrameId | -1; readonly leaf: FrameId | undefined; readonly bytes: number }[];
}

/**
 * Snapshots in a row that must hold the memory back: a moment between a free and the allocator's trim
 * (or a snapshot that read RSS and the heap a little apart) is not what a process keeps.
 */
export const HELD_BACK_MIN_SNAPSHOTS = 5;
/**
 * The heap fell from its peak by at least this share of what is held back: the memory held is what the
 * program freed (RSS counts the allocator's headers and whole pages too, so a little more than it freed).
 */
export const HELD_BACK_FELL_SHARE = 0.5;

/** Run mode only: after an attach, the heap does not count what was allocated before it. */
export function freedNotReturned({ model, filter, minBytes }: DetectorInput): FreedNotReturnedFinding[] {
  const s = model.snapshots;
  const n = s.timeNs.length;
  if (n < 2 || model.header.mode === MODE_ATTACH || !Number.isFinite(s.heap[0]!)) return [];
  const baseline = Math.max(0, s.rssAnon[0]! - s.heap[0]!);
  const min = Math.max(minBytes, HELD_BACK_MIN_SHARE * model.maxHeap);
  // The snapshot where the most was held back, within a run of HELD_BACK_MIN_SNAPSHOTS or more that
  // each held back `min`, with the heap down from its earlier peak by at least as much.
  let best = -1;
  let bestHeld = 0;
  let run = 0;
  let peakSoFar = 0;
  for (let i = 0; i < n; i++) {
    const heap = s.heap[i]!;
    if (!Number.isFinite(heap)) {
      run = 0;
      continue;
    }
    peakSoFar = Math.max(peakSoFar, heap);
    const held = s.rssAnon[i]! - heap - baseline;
    run = held >= min && peakSoFar - heap >= HELD_BACK_FELL_SHARE * held ? run + 1 : 0;
    if (run >= HELD_BACK_MIN_SNAPSHOTS && held > bestHeld) {
      best = i;
      bestHeld = held;
    }
  }
  if (best < 0) return [];
  return [
    {
      kind: 'freed-not-returned',
      ...FREED_NOT_RETURNED_TEXT,
      bytes: bestHeld,
      lines: [],
      timeNs: s.timeNs[best]!,
      rssAnon: s.rssAnon[best]!,
      heap: s.heap[best]!,
      baseline,
      peakHeap: peakSoFar,
      freed: freedSincePeak(model, filter),
    },
  ];
}

/** Per line of the program, the memory live at the peak that was freed by the end. */
function freedSincePeak(model: CaptureModel, filter: FrameFilter): FreedNotReturnedFinding['freed'] {
  const c = model.sites.columns;
  const peak = model.sites.peak;
  const gone = (s: SiteId): number => peak.bytes(s) - c.liveBytes.array[s]!;
  const groups = groupByOwnLine(model, filter, (s) => gone(s) > 0);
  return groups
    .map((g) => ({ line: g.line, leaf: g.leaf, bytes: g.sites.reduce((a, s) => a + gone(s), 0) }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, EVIDENCE_ROWS);
}
