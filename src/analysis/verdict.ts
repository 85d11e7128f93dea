// The OOM verdict: a post-mortem of one capture. How the process ended, its peak against the memory
// limit, the last snapshot before the end, what grew in the last seconds and since the start, the RSS
// the tracked heap does not explain, the collector, the threads, and the findings. Works on a capture cut
// off by a kill (no trailer), on aggregated captures (from their last checkpoint) and on captures that
// lack pieces: what a capture cannot tell is said, never guessed.

import { Allocator, MARKER_KINDS, MODE_ATTACH, OPTION_PYTHON_ALLOCATORS } from '../capture/format.js';
import type { SnapshotRecord } from '../capture/records.js';
import { DEFAULT_FRAME_FILTER, type FrameFilter } from '../model/frames.js';
import type { SiteId } from '../model/ids.js';
import type { CaptureModel } from '../model/model.js';
import type { AllocationSet, SiteAmount } from './allocation-set.js';
import { type Ending, endingOf } from './ending.js';
import { type CaptureCensus, captureCensus } from './capture-census.js';
import { type Finding, findings, findingsNotLookedFor, threadEvidence, type ThreadEvidence } from './findings/index.js';
import type { ForensicFacts } from './forensics.js';
import { type GcReport, gcReport } from './gc.js';
import { timeOfSeq } from './high-water-mark.js';
import { modelAtProgramEnd } from './program-end.js';
import { leaks } from './leaks.js';
import { markersWithPressure } from './memory-pressure.js';
import { memoryLimitOf } from './memory-limit.js';
import { type LineRow, ownLines } from './locations.js';
import { type StackAmount, stacksOf } from './stacks.js';
import { type StallBeforeKill, stallBeforeKill } from './stall-before-kill.js';
import { outgrown } from '../util/outgrown.js';
import { type LateLoad, lateLoads } from './verdict-loads.js';

const NEAR_OOM = MARKER_KINDS.indexOf('near-oom');
const MEMORY_PRESSURE = MARKER_KINDS.indexOf('memory-pressure');

export interface TimedValue {
  readonly bytes: number;
  /** ns since tracking started; undefined when it cannot be placed. */
  readonly timeNs: number | undefined;
  /** The moment is after timeNs (the last snapshot), not at it: no snapshot came after it. */
  readonly after?: boolean;
}

export interface PeakVsLimit {
  readonly heap: TimedValue;
  readonly rss: TimedValue | undefined;
  readonly cgroup: TimedValue | undefined;
  /** The memory limit (cgroup), if the process had one. */
  readonly limit: number | undefined;
  /** How much of the tracked heap was not memory in use: what the heap counts and the limit does not. */
  readonly residence: HeapResidence;
}

/**
 * The tracked heap counts a block when it is allocated, RSS and a cgroup limit count a page when it is first
 * written: a mapping reserved and never touched (OpenBLAS maps a 32 MiB buffer per thread when numpy is
 * imported and writes little of it) is heap and no memory, so the heap can exceed RSS and even the limit that
 * killed the process. The capture has no record of which pages were touched; what it does tell is below.
 */
export interface HeapResidence {
  /** Bytes live at the heap's peak in mappings the program made with mmap or mremap itself (not malloc's). */
  readonly mappedAtPeak: number;
  /** The program's own line that held most of them at the peak (locations.ts ownLines), if any. */
  readonly mappedLine: LineRow | undefined;
  /**
   * The most the heap exceeded anonymous RSS at a snapshot, and when: at least that much of the heap was not
   * resident then (never touched, or swapped out). Undefined when it never did (or no snapshot had a heap).
   */
  readonly notResident: TimedValue | undefined;
}

/**
 * The last SNAPSHOT record's figures, with `heap` as the model has it (computed by the replay in an event
 * capture) and `cgroupLimit` undefined when there was no limit.
 */
export interface LastSnapshot extends Omit<SnapshotRecord, 'type' | 'stream' | 'seq'> {
  /** How long before the end (endNs) it was taken. */
  readonly beforeEndNs: number;
}

export interface NearOom {
  readonly timeNs: number;
  readonly beforeEndNs: number;
  readonly label: string;
  /** Near-OOM markers in all (the agent re-arms when usage falls back below 85%). */
  readonly count: number;
}

export interface GrowthView {
  /**
   * Net growth per stack and per line of the program's own code (with the frame that allocated beside it:
   * locations.ts ownLines), largest first (only those that grew).
   */
  readonly stacks: readonly StackAmount[];
  readonly lines: readonly LineRow[];
  /** Net change of the tracked heap over the window. */
  readonly heapBytes: number;
}

export interface RecentGrowthView extends GrowthView {
  readonly lastNs: number;
  /**
   * Start of the window (undefined: the start of the capture) and its end: the last snapshot, or, when the
   * program stalled before it was killed, the moment of its last allocation or free.
   */
  readonly fromNs: number | undefined;
  readonly toNs: number | undefined;
  /** The capture (up to the stall) is shorter than the window: "the last seconds" are all of it. */
  readonly wholeCapture: boolean;
  /** The program allocated nothing for at least the window before it was killed at its limit: the window ends where it last did. */
  readonly stall: StallBeforeKill | undefined;
}

export interface UnexplainedRss {
  /** The snapshot this is measured at: the one of the highest RSS. */
  readonly timeNs: number;
  readonly rss: number;
  readonly heap: number;
  /** Anonymous RSS (what of RSS the heap can explain: the heap is anonymous memory). */
  readonly rssAnon: number;
  readonly fileBacked: number;
  readonly shmem: number;
  /** Anonymous RSS beyond the tracked heap. */
  readonly anonBeyondHeap: number;
  /** Tracked heap that is not resident (reserved, never touched, or swapped out). */
  readonly heapNotResident: number;
  readonly swap: number | undefined;
  /** Python's allocators were traced (the heap counts objects, not pymalloc's arenas). */
  readonly pythonAllocatorsTraced: boolean;
  readonly pythonAllocator: string;
}

export interface ThreadSummary extends ThreadEvidence {
  /** Threads the capture saw (with a THREAD record), the main one included. */
  readonly seen: number;
  readonly aliveAtEnd: number;
  /** Attach mode: threads that existed before memlens attached show as started when first seen. */
  readonly attached: boolean;
}

export interface Verdict {
  readonly aggregated: boolean;
  readonly ending: Ending;
  readonly peak: PeakVsLimit;
  readonly last: LastSnapshot | undefined;
  readonly nearOom: NearOom | undefined;
  /** The last time memory pressure was told (memory-pressure.ts; PSI: tasks stalled waiting for memory), if any. */
  readonly pressure: NearOom | undefined;
  readonly recent: RecentGrowthView | undefined;
  readonly sinceStart: GrowthView;
  readonly unexplained: UnexplainedRss | undefined;
  /** Libraries loaded after the start, by the snapshots around them (verdict-loads.ts): [] when none. */
  readonly loadedAfterStart: readonly LateLoad[];
  readonly gc: GcReport;
  readonly threads: ThreadSummary;
  readonly forks: number;
  /** The census of live objects the capture holds (the last near-OOM one, else the last), if any. */
  readonly census: CaptureCensus | undefined;
  /** Why the capture's census cannot be read, when it holds one that cannot. */
  readonly censusError: string | undefined;
  readonly findings: readonly Finding[];
  /** Findings this capture cannot show, and why (findings/index.ts findingsNotLookedFor). */
  readonly notLookedFor: readonly { readonly what: string; readonly why: string }[];
  /** What this capture cannot tell, in words. */
  readonly cannotTell: readonly string[];
}

export interface VerdictOptions {
  readonly filter?: FrameFilter | undefined;
  /** Rows per growth table (default 5). */
  readonly rows?: number | undefined;
}

export function verdict(model: CaptureModel, facts: ForensicFacts | undefined, options: VerdictOptions = {}): Verdict {
  const v = verdictOf(model, facts, options);
  // What it made for every site (the model at the program's end: 16 bytes a site, 40 MiB on call_sites; the
  // findings' index of candidate lines; the stacks' node tables) is garbage now, and old enough to wait for a
  // full collection that a report seldom gets before it ends: the report goes on to make the growth since the
  // start beside it (docs/benchmarks.md, round twenty-six). A few milliseconds, once a report, when that much was made.
  outgrown(20 * model.sites.size + 8 * model.frames.pyNodeCount);
  return v;
}

/** verdict() but the collection after it: what this makes and does not return is unreachable once it returns. */
function verdictOf(model: CaptureModel, facts: ForensicFacts | undefined, options: VerdictOptions): Verdict {
  const filter = options.filter ?? DEFAULT_FRAME_FILTER;
  const rows = options.rows ?? 5;
  const s = model.snapshots;
  const n = s.seq.length;
  const ending = endingOf(model);
  const cannotTell: string[] = [];
  if (n === 0) cannotTell.push('the capture has no memory snapshots: RSS, the cgroup usage and limit, what grew in the last seconds and whether memory accumulated over time are unknown');
  if (model.aggregated) cannotTell.push('an aggregated capture keeps totals per location: lifetimes, reallocations and the memory the garbage collector freed are unknown');
  if (model.header.mode === MODE_ATTACH) cannotTell.push('memlens attached to a running process: memory allocated before the attach is not in the tracked heap');
  if (ending.kind === 'abrupt' && model.allocations === 0 && n === 0) cannotTell.push('the capture holds neither events nor snapshots: it was cut off before the agent wrote any');

  const last: LastSnapshot | undefined =
    n === 0
      ? undefined
      : {
          timeNs: s.timeNs[n - 1]!,
          beforeEndNs: Math.max(0, ending.endNs - s.timeNs[n - 1]!),
          rss: s.rss[n - 1]!,
          rssAnon: s.rssAnon[n - 1]!,
          rssFile: s.rssFile[n - 1]!,
          rssShmem: s.rssShmem[n - 1]!,
          swap: finite(s.swap[n - 1]),
          heap: finite(s.heap[n - 1]),
          cgroupUsage: finite(s.cgroupUsage[n - 1]),
          cgroupLimit: positive(s.cgroupLimit[n - 1]),
        };

  const markers = markersWithPressure(model);
  const lastMarker = (kind: number): NearOom | undefined => {
    const all = markers.filter((m) => m.kind === kind);
    const last = all.reduce<(typeof all)[number] | undefined>((a, m) => (a === undefined || m.timeNs >= a.timeNs ? m : a), undefined);
    return last === undefined ? undefined : { timeNs: last.timeNs, beforeEndNs: Math.max(0, ending.endNs - last.timeNs), label: last.label, count: all.length };
  };
  const nearOom = lastMarker(NEAR_OOM);
  const pressure = lastMarker(MEMORY_PRESSURE);

  // The model as it stood at the program's end (program-end.ts), for the last seconds and for the findings:
  // made once (its two columns of every site were made twice, 40 MiB each time on call_sites). Not read by the
  // closure below (sinceStart), which keeps this function's variables it reads as long as the verdict lives.
  const atEnd = facts?.stoppedAt === undefined ? model : modelAtProgramEnd(model, facts.series, ending.programEnd);

  // Made on first use: the flame graph's verdict panel shows the recent growth when there is one and never asks
  // for this (leaks() and growthView() over every site: 40-70 ms on a capture of millions of sites).
  let sinceStart: GrowthView | undefined;
  let recent: RecentGrowthView | undefined;
  if (facts?.recent?.toNs !== undefined) {
    const r = facts.recent;
    // A program stalled at its limit before the kill: the window is the one before its last change (nothing
    // changed since, so live at the end is live then).
    const stall = stallBeforeKill(model, ending, r);
    const base = stall !== undefined && r.beforeLastChange !== undefined ? r.beforeLastChange : r;
    // The last seconds of the program, up to its end (program-end.ts): memlens's release after it is not growth.
    const live = atEnd.sites.columns.liveBytes.array;
    const liveN = atEnd.sites.columns.liveCount.array;
    const sites: SiteAmount[] = [];
    for (let site = 0 as SiteId; site < model.sites.size; site++) {
      const b = live[site]! - base.baseBytes.get(site);
      const c = liveN[site]! - base.baseCount.get(site);
      if (b !== 0 || c !== 0) sites.push({ site, bytes: b, count: c });
    }
    const set: AllocationSet = { kind: 'total', totalBytes: sites.reduce((a, x) => a + x.bytes, 0), totalCount: sites.reduce((a, x) => a + x.count, 0), sites };
    const view = growthView(model, set, filter, rows, atEnd.endHeap - base.baseHeap);
    const toNs = stall !== undefined ? stall.lastChangeNs : r.toNs;
    recent = { ...view, lastNs: r.lastNs, fromNs: base.fromNs, toNs, wholeCapture: base.fromNs === undefined, stall };
  }

  const gc = gcReport(model, facts?.gcFrees, filter);
  const census = captureCensus(model);
  const ev = threadEvidence(model, filter);
  const seen = model.threads.filter((t) => t.startNs !== undefined);
  const threads: ThreadSummary = {
    ...ev,
    seen: seen.length,
    aliveAtEnd: seen.filter((t) => t.exitNs === undefined).length,
    attached: model.header.mode === MODE_ATTACH,
  };
  return {
    aggregated: model.aggregated,
    ending,
    peak: peakVsLimit(model, filter),
    last,
    nearOom,
    pressure,
    recent,
    get sinceStart(): GrowthView {
      return (sinceStart ??= growthView(model, leaks(model), filter, rows, model.endHeap));
    },
    unexplained: unexplainedRss(model),
    loadedAfterStart: lateLoads(model),
    gc,
    threads,
    forks: model.forks.length,
    census: census.census,
    censusError: census.error,
    findings: findings(model, facts, { filter, gc, census: census.census ?? null, atEnd }),
    notLookedFor: findingsNotLookedFor(model),
    cannotTell,
  };
}

/** A line's bytes but those a library's import made under it (LineRow.importBytes). */
function programBytes(l: LineRow): number {
  return l.bytes - (l.importBytes ?? 0);
}

function growthView(model: CaptureModel, set: AllocationSet, filter: FrameFilter, rows: number, heapBytes: number): GrowthView {
  const stacks = stacksOf(model, set, { filter });
  const lines = ownLines(model, stacks);
  return {
    stacks: stacks.filter((st) => st.bytes > 0).slice(0, rows),
    // The program's own growth first: a line whose bytes a library's import made (numpy's OpenBLAS maps 32 MiB
    // buffers, mostly never touched, under `import numpy`) ranks by what it made besides.
    lines: lines
      .filter((l) => l.bytes > 0)
      .sort((a, b) => programBytes(b) - programBytes(a) || b.bytes - a.bytes || b.count - a.count)
      .slice(0, rows),
    heapBytes,
  };
}

function peakVsLimit(model: CaptureModel, filter: FrameFilter): PeakVsLimit {
  const s = model.snapshots;
  const maxOf = (col: readonly number[]): TimedValue | undefined => {
    let best: TimedValue | undefined;
    for (let i = 0; i < col.length; i++) {
      const v = col[i]!;
      if (Number.isFinite(v) && (best === undefined || v > best.bytes)) best = { bytes: v, timeNs: s.timeNs[i] };
    }
    return best;
  };
  let heap: TimedValue;
  if (model.aggregated) {
    // The heap column is the agent's own at each snapshot, written more often than checkpoints: the peak
    // is the higher of the last checkpoint's and the snapshots', placed at the snapshot that saw most.
    const snap = maxOf(s.heap);
    heap = snap !== undefined && snap.bytes >= model.maxHeap ? snap : { bytes: model.maxHeap, timeNs: snap?.timeNs };
  } else {
    const t = timeOfSeq(model, model.maxHeapSeq);
    const n = s.timeNs.length;
    // Events carry no time: the first snapshot after the peak places it; a killed process may have none.
    heap = t !== undefined || n === 0 ? { bytes: model.maxHeap, timeNs: t } : { bytes: model.maxHeap, timeNs: s.timeNs[n - 1], after: true };
  }
  return { heap, rss: maxOf(s.rss), cgroup: maxOf(s.cgroupUsage), limit: memoryLimitOf(model), residence: heapResidence(model, filter) };
}

const MMAP: number = Allocator.Mmap;
const MREMAP: number = Allocator.Mremap;

/** The allocators that map memory (their blocks may not be resident). */
function isMapper(allocator: number): boolean {
  return allocator === MMAP || allocator === MREMAP;
}

function heapResidence(model: CaptureModel, filter: FrameFilter): HeapResidence {
  // The sites' peak columns are at the heap's maximum unless a window moved the peak searched for.
  const sites: SiteAmount[] = [];
  if (model.peakHeap === model.maxHeap) {
    // The mappers' sites first (a read of each site's keys), their values at the peak then: the sites with a value
    // at the peak were a pass over the peak's columns and lists and arrays of every such site (call_sites: 0.2 s of
    // its verdict, for a few sites of mmap; docs/benchmarks.md, round thirty-three).
    const peak = model.sites.peak;
    for (let site = 0 as SiteId; site < model.sites.size; site++) {
      if (!isMapper(model.sites.allocator(site))) continue;
      const bytes = peak.bytes(site);
      if (bytes > 0) sites.push({ site, bytes, count: peak.count(site) });
    }
  }
  const mappedAtPeak = sites.reduce((a, x) => a + x.bytes, 0);
  const set: AllocationSet = { kind: 'peak', totalBytes: mappedAtPeak, totalCount: sites.reduce((a, x) => a + x.count, 0), sites };
  const lines = sites.length === 0 ? [] : ownLines(model, stacksOf(model, set, { filter }));
  const mappedLine = lines.reduce<LineRow | undefined>((a, l) => (a === undefined || l.bytes > a.bytes ? l : a), undefined);
  const s = model.snapshots;
  let notResident: TimedValue | undefined;
  for (let i = 0; i < s.timeNs.length; i++) {
    const heap = s.heap[i];
    if (heap === undefined || !Number.isFinite(heap)) continue;
    const over = heap - s.rssAnon[i]!;
    if (over > 0 && (notResident === undefined || over > notResident.bytes)) notResident = { bytes: over, timeNs: s.timeNs[i] };
  }
  return { mappedAtPeak, mappedLine, notResident };
}

function unexplainedRss(model: CaptureModel): UnexplainedRss | undefined {
  const s = model.snapshots;
  let at = -1;
  for (let i = 0; i < s.rss.length; i++) if (at < 0 || s.rss[i]! >= s.rss[at]!) at = i;
  if (at < 0) return undefined;
  const heap = finite(s.heap[at]) ?? 0;
  const anon = s.rssAnon[at]!;
  return {
    timeNs: s.timeNs[at]!,
    rss: s.rss[at]!,
    rssAnon: anon,
    heap,
    fileBacked: s.rssFile[at]!,
    shmem: s.rssShmem[at]!,
    anonBeyondHeap: Math.max(0, anon - heap),
    heapNotResident: Math.max(0, heap - anon),
    swap: finite(s.swap[at]),
    pythonAllocatorsTraced: (model.header.options & OPTION_PYTHON_ALLOCATORS) !== 0,
    pythonAllocator: model.header.pythonAllocator,
  };
}

function finite(v: number | undefined): number | undefined {
  return v !== undefined && Number.isFinite(v) ? v : undefined;
}

function positive(v: number | undefined): number | undefined {
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : undefined;
}
