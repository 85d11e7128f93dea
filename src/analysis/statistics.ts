// `memlens stats`: totals, peak, duration, allocation sizes, allocator mix, top locations and modules.
// Aggregated captures give all of it but the size histogram (they keep no individual sizes).

import { ALLOCATORS } from '../capture/format.js';
import { DEFAULT_FRAME_FILTER, type FrameFilter } from '../model/frames.js';
import type { CaptureModel } from '../model/model.js';
import { allAllocations } from './allocation-set.js';
import { timeOfSeq } from './high-water-mark.js';
import { type LineRow, allocatingLines } from './locations.js';
import { stacksOf } from './stacks.js';

export interface HistogramBin {
  /** Sizes in [minBytes, maxBytes]. */
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly count: number;
}

export interface AllocatorShare {
  readonly allocator: string;
  readonly count: number;
  readonly bytes: number;
}

export interface ModuleRow {
  readonly module: string;
  readonly count: number;
  readonly bytes: number;
}

/** One point of the memory timeline (a snapshot). NaN where the capture has no value. */
export interface TimelinePoint {
  readonly timeNs: number;
  readonly rss: number;
  readonly rssAnon: number;
  readonly rssFile: number;
  readonly heap: number;
  readonly cgroupUsage: number;
}

export interface Statistics {
  readonly aggregated: boolean;
  readonly totalAllocations: number;
  readonly totalBytes: number;
  readonly frees: number;
  readonly peakHeap: number;
  readonly peakTimeNs: number | undefined;
  readonly endHeap: number;
  readonly endLiveCount: number;
  readonly durationNs: number;
  readonly peakRss: number | undefined;
  readonly cgroupLimit: number | undefined;
  readonly threads: number;
  /** Undefined for aggregated captures. */
  readonly histogram: readonly HistogramBin[] | undefined;
  readonly allocators: readonly AllocatorShare[];
  readonly topBySize: readonly LineRow[];
  readonly topByCount: readonly LineRow[];
  readonly topModulesBySize: readonly ModuleRow[];
  readonly topModulesByCount: readonly ModuleRow[];
  /** A few snapshots spread over the run, with the ones of the highest heap and RSS among them. */
  readonly timeline: readonly TimelinePoint[];
  /** What this capture cannot tell, in words. */
  readonly unavailable: readonly string[];
}

export interface StatisticsOptions {
  /** How many top locations and modules (memray's -n, default 5). */
  readonly top?: number | undefined;
  readonly filter?: FrameFilter | undefined;
  readonly histogramBins?: number | undefined;
  /** Timeline points at most (default 10). */
  readonly timelinePoints?: number | undefined;
}

export function statistics(model: CaptureModel, options: StatisticsOptions = {}): Statistics {
  const top = options.top ?? 5;
  const filter = options.filter ?? DEFAULT_FRAME_FILTER;
  const stacks = stacksOf(model, allAllocations(model), { filter });

  const lines = allocatingLines(model, stacks);
  const topBySize = [...lines].sort((a, b) => b.bytes - a.bytes || b.count - a.count).slice(0, top);
  const topByCount = [...lines].sort((a, b) => b.count - a.count || b.bytes - a.bytes).slice(0, top);

  const modules = new Map<string, { module: string; count: number; bytes: number }>();
  for (const st of stacks) {
    const name = model.frames.moduleOfStack(st);
    let m = modules.get(name);
    if (m === undefined) {
      m = { module: name, count: 0, bytes: 0 };
      modules.set(name, m);
    }
    m.count += st.count;
    m.bytes += st.bytes;
  }
  const moduleRows = [...modules.values()];
  const topModulesBySize = [...moduleRows].sort((a, b) => b.bytes - a.bytes || b.count - a.count).slice(0, top);
  const topModulesByCount = [...moduleRows].sort((a, b) => b.count - a.count || b.bytes - a.bytes).slice(0, top);

  const allocators: AllocatorShare[] = [];
  for (let k = 0; k < model.allocatorCounts.length; k++) {
    const count = model.allocatorCounts[k]!;
    if (count > 0) allocators.push({ allocator: ALLOCATORS[k] ?? `allocator ${k}`, count, bytes: model.allocatorBytes[k]! });
  }
  allocators.sort((a, b) => b.count - a.count || b.bytes - a.bytes);

  let peakRss: number | undefined;
  for (const r of model.snapshots.rss) if (peakRss === undefined || r > peakRss) peakRss = r;
  let cgroupLimit = model.header.cgroupLimitBytes;
  for (const l of model.snapshots.cgroupLimit) if (l > 0 && Number.isFinite(l)) cgroupLimit = l;

  const unavailable: string[] = [];
  if (model.aggregated) {
    unavailable.push('allocation-size histogram (an aggregated capture keeps totals per location, not each size)');
    unavailable.push('number of frees');
  }
  return {
    aggregated: model.aggregated,
    totalAllocations: model.allocations,
    totalBytes: model.bytesAllocated,
    frees: model.frees,
    peakHeap: model.maxHeap,
    peakTimeNs: model.aggregated ? undefined : timeOfSeq(model, model.maxHeapSeq),
    endHeap: model.endHeap,
    endLiveCount: model.endLiveCount,
    durationNs: model.durationNs,
    peakRss,
    cgroupLimit,
    threads: model.threads.filter((t) => t.renamedFrom === undefined).length, // a rename is the same thread
    histogram: model.aggregated ? undefined : histogramBins(model.sizeHistogram, options.histogramBins ?? 12),
    allocators,
    topBySize,
    topByCount,
    topModulesBySize,
    topModulesByCount,
    timeline: timelinePoints(model, options.timelinePoints ?? 10),
    unavailable,
  };
}

/** Up to `max` snapshots evenly spread in time, plus the one where the heap and the one where RSS peaked. */
export function timelinePoints(model: CaptureModel, max: number): TimelinePoint[] {
  const s = model.snapshots;
  const n = s.seq.length;
  if (n === 0) return [];
  const picks = new Set<number>();
  let maxHeap = 0;
  let maxRss = 0;
  for (let i = 0; i < n; i++) {
    if (s.heap[i]! > s.heap[maxHeap]!) maxHeap = i;
    if (s.rss[i]! > s.rss[maxRss]!) maxRss = i;
  }
  picks.add(maxHeap);
  picks.add(maxRss);
  const even = Math.max(1, max - picks.size);
  for (let k = 0; k < even && picks.size < max; k++) picks.add(even === 1 ? n - 1 : Math.round((k * (n - 1)) / (even - 1)));
  return [...picks]
    .sort((a, b) => a - b)
    .map((i) => ({
      timeNs: s.timeNs[i]!,
      rss: s.rss[i]!,
      rssAnon: s.rssAnon[i]!,
      rssFile: s.rssFile[i]!,
      heap: s.heap[i]!,
      cgroupUsage: s.cgroupUsage[i]!,
    }));
}

/**
 * The power-of-two size buckets between the smallest and largest used, merged so that there are at most
 * `maxBins` (each bin covers the same number of powers of two, so the scale stays logarithmic).
 */
export function histogramBins(buckets: ArrayLike<number>, maxBins: number): HistogramBin[] {
  let first = -1;
  let last = -1;
  for (let k = 0; k < buckets.length; k++) {
    if (buckets[k]! > 0) {
      if (first < 0) first = k;
      last = k;
    }
  }
  if (first < 0) return [];
  const span = last - first + 1;
  const per = Math.ceil(span / Math.max(1, maxBins));
  const bins: HistogramBin[] = [];
  for (let k = first; k <= last; k += per) {
    let count = 0;
    const end = Math.min(last, k + per - 1);
    for (let j = k; j <= end; j++) count += buckets[j]!;
    bins.push({ minBytes: bucketMin(k), maxBytes: bucketMin(end + 1) - 1, count });
  }
  return bins;
}

function bucketMin(k: number): number {
  return k === 0 ? 0 : 2 ** (k - 1);
}
