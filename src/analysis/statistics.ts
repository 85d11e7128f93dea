// `memlens stats`: totals, peak, duration, allocation sizes, allocator mix, top locations and modules.
// Aggregated captures give all of it but the size histogram (they keep no individual sizes).

import { ALLOCATORS } from '../capture/format.js';
import { DEFAULT_FRAME_FILTER, type FrameFilter, moduleOfFrame } from '../model/frames.js';
import type { CaptureModel } from '../model/model.js';
import { type FrameId, NO_PY_NODE, type PyNodeId1, type SiteId } from '../model/ids.js';
import { TupleInterner } from '../model/tuple-interner.js';
import { allAllocations } from './allocation-set.js';
import { timeOfSeq } from './high-water-mark.js';
import { type LineRow, NO_STACK } from './locations.js';

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
  const { topBySize, topByCount, topModulesBySize, topModulesByCount } = topRows(model, filter, top);

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

interface TopRows {
  readonly topBySize: LineRow[];
  readonly topByCount: LineRow[];
  readonly topModulesBySize: ModuleRow[];
  readonly topModulesByCount: ModuleRow[];
}

/**
 * The top allocating lines and modules, as `allocatingLines(model, stacksOf(model, allAllocations(model)))` and
 * the modules of those stacks (`moduleOfStack`) give them, in numbers: the same stacks (the shown frames interned
 * as paths of a trie, the sites of one path merged in the set's order), summed in the same order and ranked
 * with the same ties (a stack, line or module first met earlier comes first among equals), but without an object
 * per stack, a string key per stack or a closure per stack's walk. Those were all garbage once the top few were
 * picked, and old enough to be promoted: on numpy_mix (22 k stacks, 5 k allocating lines) `stats`' peak, +4 MiB
 * of the old generation after the read (docs/benchmarks.md, round twenty-six).
 */
function topRows(model: CaptureModel, filter: FrameFilter, top: number): TopRows {
  const frames = model.frames;
  const sites = model.sites;
  const cols = allAllocations(model).columns!;
  const n = cols.site.length;
  // The trie of stacks.ts's stacksOf(), sized as there.
  const trie = new TupleInterner(2, Math.min(1 << 22, frames.pyNodeCount + 1 + 1024, n * 4 + 1024));
  const pathOfNode = new Int32Array(frames.pyNodeCount + 1).fill(-1);
  pathOfNode[NO_PY_NODE] = 0;
  const climb: PyNodeId1[] = [];
  const pathOfPair = new Map<string, number>();
  // The stacks (paths met), numbered in the order first met: 1 + number by path, and each one's path and sums.
  let atOfPath = new Int32Array(trie.size + 1024);
  const stackPath = new Int32Array(n);
  const stackBytes = new Float64Array(n);
  const stackCount = new Float64Array(n);
  let stacks = 0;
  for (let i = 0; i < n; i++) {
    const site = cols.site[i]! as SiteId;
    const py = sites.pyStack(site);
    const native = sites.nativeStack(site);
    let path: number;
    if (native === 0) {
      let node = py;
      while (pathOfNode[node]! < 0) {
        climb.push(node);
        node = frames.pyParentOf(node);
      }
      path = pathOfNode[node]!;
      while (climb.length > 0) {
        const m = climb.pop()!;
        const f = frames.pyFrameOf(m);
        if (frames.visible(f, filter)) path = trie.intern(path, f) + 1;
        pathOfNode[m] = path;
      }
    } else {
      const key = `${py}:${native}`;
      let found = pathOfPair.get(key);
      if (found === undefined) {
        found = 0;
        for (const f of frames.stack(py, native, filter)) found = trie.intern(found, f) + 1;
        pathOfPair.set(key, found);
      }
      path = found;
    }
    if (path >= atOfPath.length) {
      const grown = new Int32Array(Math.max(path + 1, trie.size + 1) * 2);
      grown.set(atOfPath);
      atOfPath = grown;
    }
    let at = atOfPath[path]! - 1;
    if (at < 0) {
      at = stacks++;
      stackPath[at] = path;
      atOfPath[path] = at + 1;
    }
    stackBytes[at] = stackBytes[at]! + cols.bytes[i]!;
    stackCount[at] = stackCount[at]! + cols.count[i]!;
  }
  // stacksOf()'s order: bytes, then count, descending; first met first among equals.
  const order = rankBy(stacks, stackBytes, stackCount);

  // Rows by allocating line and by module, numbered in the order first met along the stacks' order.
  const nFrames = frames.frames.length;
  const lineOfFrame = new Int32Array(nFrames).fill(-1);
  const lineByKey = new Map<string, number>();
  const lines: { readonly function: string; readonly file: string; readonly line: number }[] = [];
  const lineBytes = new Float64Array(nFrames + 1);
  const lineCount = new Float64Array(nFrames + 1);
  const lineOf = (func: string, file: string, line: number): number => {
    const key = `${func}\u0000${file}\u0000${line}`;
    let r = lineByKey.get(key);
    if (r === undefined) {
      r = lines.length;
      lines.push({ function: func, file, line });
      lineByKey.set(key, r);
    }
    return r;
  };
  // A frame's say in moduleOfStack(): -2 not looked at yet, -1 none (native or stdlib: the walk goes on), else the
  // number of its top-level package in `moduleNames`.
  const moduleNumberOfFrame = new Int32Array(nFrames).fill(-2);
  const moduleByName = new Map<string, number>();
  const moduleNames: string[] = [];
  const nameNumber = (name: string): number => {
    let k = moduleByName.get(name);
    if (k === undefined) {
      k = moduleNames.length;
      moduleNames.push(name);
      moduleByName.set(name, k);
    }
    return k;
  };
  const root = nameNumber('<root>');
  const moduleRowOfName: number[] = [];
  const moduleRows: number[] = [];
  const moduleBytes = new Float64Array(nFrames + 1);
  const moduleCount = new Float64Array(nFrames + 1);
  for (let k = 0; k < stacks; k++) {
    const at = order[k]!;
    const path = stackPath[at]!;
    const bytes = stackBytes[at]!;
    const count = stackCount[at]!;
    let r: number;
    if (path === 0) r = lineOf(NO_STACK, '', 0);
    else {
      const leaf = trie.get(path - 1, 1) as FrameId;
      r = lineOfFrame[leaf]!;
      if (r < 0) {
        const f = frames.frame(leaf);
        r = lineOf(f.function, f.file, f.line);
        lineOfFrame[leaf] = r;
      }
    }
    lineBytes[r] = lineBytes[r]! + bytes;
    lineCount[r] = lineCount[r]! + count;

    let name = root;
    for (let p = path; p > 0; p = trie.get(p - 1, 0)) {
      const id = trie.get(p - 1, 1) as FrameId;
      let m = moduleNumberOfFrame[id]!;
      if (m === -2) {
        const module = moduleOfFrame(frames.frame(id));
        m = module === undefined ? -1 : nameNumber(module);
        moduleNumberOfFrame[id] = m;
      }
      if (m >= 0) {
        name = m;
        break;
      }
    }
    let row = moduleRowOfName[name];
    if (row === undefined) {
      row = moduleRows.length;
      moduleRows.push(name);
      moduleRowOfName[name] = row;
    }
    moduleBytes[row] = moduleBytes[row]! + bytes;
    moduleCount[row] = moduleCount[row]! + count;
  }

  const lineRow = (r: number): LineRow => ({ ...lines[r]!, bytes: lineBytes[r]!, count: lineCount[r]! });
  const moduleRow = (r: number): ModuleRow => ({ module: moduleNames[moduleRows[r]!]!, count: moduleCount[r]!, bytes: moduleBytes[r]! });
  return {
    topBySize: Array.from(rankBy(lines.length, lineBytes, lineCount).subarray(0, top), lineRow),
    topByCount: Array.from(rankBy(lines.length, lineCount, lineBytes).subarray(0, top), lineRow),
    topModulesBySize: Array.from(rankBy(moduleRows.length, moduleBytes, moduleCount).subarray(0, top), moduleRow),
    topModulesByCount: Array.from(rankBy(moduleRows.length, moduleCount, moduleBytes).subarray(0, top), moduleRow),
  };
}

/**
 * The numbers 0 to n − 1 ordered by `first`, then `second`, both descending, then by number: what a stable sort of
 * rows numbered in the order made gives with `(a, b) => b.first − a.first || b.second − a.second`. The comparator
 * returns −1, 0 or 1 (small integers: a difference of doubles returned from it would be a heap number each call).
 */
function rankBy(n: number, first: Float64Array, second: Float64Array): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order.sort((a, b) => {
    const x = first[a]!;
    const y = first[b]!;
    if (x !== y) return y > x ? 1 : -1;
    const u = second[a]!;
    const v = second[b]!;
    if (u !== v) return v > u ? 1 : -1;
    return a - b;
  });
}
