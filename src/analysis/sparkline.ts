// The recent memory of a capture in a few points, for a small chart (the live views' heap line): the
// heap and RSS over a time window, each point the highest value of its time slice.

import type { CaptureModel } from '../model/model.js';

export interface Sparkline {
  /** Heap per point, oldest first (the highest heap seen in the point's time slice); null: no data yet. */
  readonly heap: readonly (number | null)[];
  readonly rss: readonly (number | null)[];
  /** Time the points cover, ending at `endNs` (ns since tracking started). */
  readonly windowNs: number;
  readonly endNs: number;
}

/**
 * The heap and RSS over the last `windowNs` before `endNs`, in `points` slices of equal time: each point is
 * the highest value in its slice, or the last value before it when no snapshot fell inside (a point never
 * goes blank once there is data), or null before the first snapshot.
 */
export function sparkline(model: CaptureModel, points: number, windowNs: number, endNs: number): Sparkline {
  const s = model.snapshots;
  const n = s.timeNs.length;
  const lastTime = n > 0 ? (s.timeNs[n - 1] as number) : 0;
  const end = Math.max(endNs, lastTime);
  const start = end - windowNs;
  const slice = windowNs / points;
  const heap: (number | null)[] = new Array<number | null>(points).fill(null);
  const rss: (number | null)[] = new Array<number | null>(points).fill(null);
  // The first snapshot inside the window (binary search: the series is in time order).
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((s.timeNs[mid] as number) <= start) lo = mid + 1;
    else hi = mid;
  }
  let carryHeap: number | null = lo > 0 ? valueOrNull(s.heap[lo - 1]) : null;
  let carryRss: number | null = lo > 0 ? valueOrNull(s.rss[lo - 1]) : null;
  let i = lo;
  for (let p = 0; p < points; p++) {
    const sliceEnd = p === points - 1 ? Infinity : start + (p + 1) * slice;
    let maxHeap: number | null = null;
    let maxRss: number | null = null;
    for (; i < n && (s.timeNs[i] as number) <= sliceEnd; i++) {
      const hv = valueOrNull(s.heap[i]);
      const rv = valueOrNull(s.rss[i]);
      if (hv !== null && (maxHeap === null || hv > maxHeap)) maxHeap = hv;
      if (rv !== null && (maxRss === null || rv > maxRss)) maxRss = rv;
      if (hv !== null) carryHeap = hv;
      if (rv !== null) carryRss = rv;
    }
    heap[p] = maxHeap ?? carryHeap;
    rss[p] = maxRss ?? carryRss;
  }
  return { heap, rss, windowNs, endNs: end };
}

function valueOrNull(v: number | undefined): number | null {
  return v === undefined || Number.isNaN(v) ? null : v;
}
