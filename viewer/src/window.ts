// Location values for a time window, from the payload's live intervals (see TemporalData in payload.ts).
// Pure; unit-tested.

import type { ReportData, TemporalData } from '../../src/report/html/payload.js';
import type { LocationValues } from './tree.js';

export interface WindowResult extends LocationValues {
  /** 'peak': the tick whose peak moment is shown; 'leaks': the window's last tick. */
  readonly tick: number;
  /** 'peak': the tracked heap at that moment. */
  readonly heap: number;
}

/** The tick that contains time `t` (ns): the first whose end is at or after t; the last one past the end. */
export function tickAt(t: TemporalData, timeNs: number): number {
  const ends = t.tickEnd;
  let lo = 0;
  let hi = ends.length - 1;
  if (hi < 0) return 0;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid]! >= timeNs) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** ns at which tick k starts. */
export function tickStart(t: TemporalData, k: number): number {
  return k === 0 ? 0 : t.tickEnd[k - 1]!;
}

/**
 * Values for ticks first … last (inclusive). 'peak': what was live at the highest peak inside the window.
 * 'leaks': what was allocated inside the window and not freed by its end.
 */
export function windowValues(data: ReportData, t: TemporalData, first: number, last: number, thread: number): WindowResult {
  const nl = data.locations.node.length;
  const bytes = new Float64Array(nl);
  const count = new Float64Array(nl);
  const threadOf = data.locations.thread;
  if (t.kind === 'peak') {
    let tick = first;
    for (let k = first; k <= last; k++) if (t.tickPeakHeap[k]! > t.tickPeakHeap[tick]!) tick = k;
    for (let i = 0; i < t.location.length; i++) {
      if (t.start[i]! <= tick && tick < t.end[i]!) {
        const l = t.location[i]!;
        if (thread >= 0 && threadOf[l] !== thread) continue;
        bytes[l]! += t.bytes[i]!;
        count[l]! += t.count[i]!;
      }
    }
    return { bytes, count, tick, heap: t.tickPeakHeap[tick] ?? 0 };
  }
  for (let i = 0; i < t.location.length; i++) {
    const s = t.start[i]!;
    if (s >= first && s <= last && t.end[i]! > last) {
      const l = t.location[i]!;
      if (thread >= 0 && threadOf[l] !== thread) continue;
      bytes[l]! += t.bytes[i]!;
      count[l]! += t.count[i]!;
    }
  }
  return { bytes, count, tick: last, heap: 0 };
}

/** The report's own view (no window), restricted to one thread (-1: all). */
export function baseValues(data: ReportData, thread: number): LocationValues {
  const { bytes, count, thread: threadOf } = data.locations;
  if (thread < 0) return { bytes, count };
  const b = new Float64Array(bytes.length);
  const c = new Float64Array(count.length);
  for (let i = 0; i < bytes.length; i++) {
    if (threadOf[i] === thread) {
      b[i] = bytes[i]!;
      c[i] = count[i]!;
    }
  }
  return { bytes: b, count: c };
}
