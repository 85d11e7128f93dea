// The memory timeline: the snapshot series (RSS and its split, tracked heap, cgroup usage and limit) with
// the events worth marking on it (GC runs, markers, forks), and, for a window, the peak inside it.

import type { GcRecord, MarkerRecord } from '../capture/records.js';
import { MissingDataError } from '../errors.js';
import type { CaptureModel, SnapshotSeries } from '../model/model.js';
import { timeOfSeq } from './high-water-mark.js';
import { markersWithPressure } from './memory-pressure.js';

export interface TimelineEvent {
  readonly timeNs: number;
  readonly kind: 'gc' | 'marker' | 'fork' | 'thread-start' | 'thread-exit';
  readonly label: string;
}

export interface Timeline {
  readonly series: SnapshotSeries;
  /** The heap column was recorded by the agent (aggregated) rather than computed from the events. */
  readonly heapRecorded: boolean;
  readonly events: readonly TimelineEvent[];
  readonly maxHeap: number;
  readonly maxHeapTimeNs: number | undefined;
  readonly maxRss: number;
  readonly maxRssTimeNs: number | undefined;
  readonly durationNs: number;
}

export function timeline(model: CaptureModel): Timeline {
  const s = model.snapshots;
  let maxRss = 0;
  let maxRssTimeNs: number | undefined;
  for (let i = 0; i < s.rss.length; i++) {
    if (s.rss[i]! > maxRss) {
      maxRss = s.rss[i]!;
      maxRssTimeNs = s.timeNs[i];
    }
  }
  const events: TimelineEvent[] = [];
  for (const g of model.gcs) events.push({ timeNs: g.timeNs, kind: 'gc', label: gcLabel(g) });
  for (const m of markersWithPressure(model)) events.push({ timeNs: m.timeNs, kind: 'marker', label: markerLabel(m) });
  for (const f of model.forks) events.push({ timeNs: f.timeNs, kind: 'fork', label: `fork: child ${f.childPid}` });
  for (const t of model.threads) {
    if (t.startNs !== undefined && t.startNs > 0) events.push({ timeNs: t.startNs, kind: 'thread-start', label: `thread started: ${t.name || t.osTid}` });
    if (t.exitNs !== undefined) events.push({ timeNs: t.exitNs, kind: 'thread-exit', label: `thread exited: ${t.name || t.osTid}` });
    if (t.renamedFrom !== undefined && t.renamedAtNs !== undefined) {
      events.push({ timeNs: t.renamedAtNs, kind: 'marker', label: `thread renamed: ${model.threads[t.renamedFrom]?.name || t.osTid} → ${t.name}` });
    }
  }
  events.sort((a, b) => a.timeNs - b.timeNs);
  return {
    series: s,
    heapRecorded: model.aggregated,
    events,
    maxHeap: model.maxHeap,
    maxHeapTimeNs: model.aggregated ? undefined : timeOfSeq(model, model.maxHeapSeq),
    maxRss,
    maxRssTimeNs,
    durationNs: model.durationNs,
  };
}

/** Checks that a time window can be answered by this capture before a report is built for it. */
export function checkWindowSupported(model: CaptureModel): void {
  if (model.aggregated) {
    throw new MissingDataError('an aggregated capture cannot show the peak inside a time window: it records totals per location, not when each allocation happened', {
      hint: 'Drop --from/--to to see the peak of the whole capture, or capture again without --aggregate.',
    });
  }
  if (model.snapshots.seq.length === 0) {
    throw new MissingDataError('the capture has no memory snapshots, so times cannot be placed among its events', {
      hint: 'Drop --from/--to; snapshots are written every --memory-interval milliseconds while tracking.',
    });
  }
}

/**
 * At most `maxPoints` points of a series for drawing: each bucket of consecutive snapshots keeps the one
 * with the highest RSS and the one with the highest heap, so peaks survive the thinning.
 */
export function thinSeries(series: SnapshotSeries, maxPoints: number): number[] {
  const n = series.seq.length;
  if (n <= maxPoints) return Array.from({ length: n }, (_, i) => i);
  const buckets = Math.max(1, Math.floor(maxPoints / 2));
  const out: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor((b * n) / buckets);
    const hi = Math.floor(((b + 1) * n) / buckets);
    let bestRss = lo;
    let bestHeap = lo;
    for (let i = lo; i < hi; i++) {
      if (series.rss[i]! > series.rss[bestRss]!) bestRss = i;
      if (series.heap[i]! > series.heap[bestHeap]!) bestHeap = i;
    }
    if (bestRss === bestHeap) out.push(bestRss);
    else out.push(Math.min(bestRss, bestHeap), Math.max(bestRss, bestHeap));
  }
  return out;
}

function gcLabel(g: GcRecord): string {
  return `gc gen ${g.generation}: ${g.collected} collected${g.uncollectable > 0 ? `, ${g.uncollectable} uncollectable` : ''}`;
}

function markerLabel(m: MarkerRecord): string {
  const names = ['', 'tracking started', 'tracking stopped', 'attached', 'near OOM', 'label', 'detached', 'memory pressure', 'capture stopped', "the program's end"];
  const name = names[m.kind] ?? `marker ${m.kind}`;
  return m.label !== '' ? `${name}: ${m.label}` : name;
}
