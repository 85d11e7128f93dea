// Findings: patterns in a capture that the seed's three pieces of advice address (free large objects
// promptly; pool threads, processes and connections; avoid repeated growth of collections), plus
// reference cycles that held memory until the collector ran. Each finding carries its evidence (stacks,
// bytes, counts, times) and what to do; a finding without evidence is never made. The thresholds are
// named below, each with why it has that value.

import { Allocator } from '../capture/format.js';
import { DEFAULT_FRAME_FILTER, type FrameFilter } from '../model/frames.js';
import type { CaptureModel, ThreadInfo } from '../model/model.js';
import type { ForensicFacts } from './forensics.js';
import { type GcReport, gcReport } from './gc.js';
import { LONG_LIVED_MIN_NS } from './large-lifetimes.js';
import type { StackAmount } from './stacks.js';

/**
 * Memory below this is never worth a finding: an OOM is made of tens or hundreds of MiB, and a few MiB
 * is the noise of a Python process (imports alone take 10–30 MiB).
 */
export const MIN_FINDING_BYTES = 4 << 20;
/** …nor below this share of the peak tracked heap (in a process of many GiB, 4 MiB is noise too). */
export const MIN_FINDING_SHARE = 0.01;

/**
 * A large allocation still live at the end counts as kept when it outlived the function that made it by at least LONG_LIVED_MIN_NS (half a second: less may be a result on its way to
 * its consumer) and by this share of the run (a tenth: it stayed for a noticeable part of the run).
 */
export const KEPT_AT_END_SHARE = 0.1;
/** A large allocation freed before the end counts as kept when it lived for most of the run (half). */
export const KEPT_MOST_OF_RUN_SHARE = 0.5;

/**
 * Threads started after another worker thread had already ended: a pool reuses its threads, so it starts
 * (almost) none once one has ended. 16 is more than a pool that grows, shrinks and grows again makes.
 */
export const THREAD_CHURN_MIN = 16;
/**
 * Threads alive at once: ThreadPoolExecutor's default is at most 32 workers; twice that is past any pool
 * sized to a machine, and each thread holds a stack (8 MiB of address space, its touched pages resident).
 */
export const MANY_THREADS_MIN = 64;
/** Processes forked: a process pool forks its workers once (one per core); more means forking per task. */
export const FORK_CHURN_MIN = 16;

/**
 * Growths by realloc at one line: a list that grows by appends to 1 MiB of pointers passes through about
 * 60 sizes; 32 growths at one line is a collection growing in a loop, not an occasional resize.
 */
export const GROWTH_MIN_EVENTS = 32;
/** …reaching at least this size (below 1 MiB the copies cost little memory). */
export const GROWTH_MIN_BYTES = 1 << 20;

/** Evidence rows kept per finding (the biggest). */
export const EVIDENCE_ROWS = 5;

/** What each kind of finding is about, and the seed's advice it applies. */
export const FINDING_TEXT = {
  'large-objects-kept': {
    title: 'Large objects kept alive long after the function that made them returned',
    advice:
      'Free large objects promptly: drop the last reference (del obj, or keep it in a narrower scope, such as a function that returns only what is needed) as soon as it is no longer needed.',
  },
  'thread-churn': {
    title: 'Threads created and destroyed over and over',
    advice:
      'Use a pool: concurrent.futures.ThreadPoolExecutor (or one long-lived worker thread and a queue) runs many tasks on a few threads, instead of starting a thread per task.',
  },
  'many-threads': {
    title: 'Many threads alive at once',
    advice:
      'Bound the concurrency with a pool (concurrent.futures.ThreadPoolExecutor(max_workers=N)) or asyncio: every thread holds a stack and its own malloc arena, and waiting threads hold their work in memory.',
  },
  'process-churn': {
    title: 'Processes forked over and over',
    advice:
      'Use a process pool: concurrent.futures.ProcessPoolExecutor or multiprocessing.Pool starts its workers once and sends them tasks, instead of forking a process per task.',
  },
  'collection-growth': {
    title: 'A collection grown step by step by reallocation',
    advice:
      'Size collections up front: preallocate ([None] * n filled by index, numpy.zeros or numpy.empty(n)), build from a sized source (list(range(n)), list(map(f, a_list))), join bytes with b"".join(parts) or io.BytesIO, instead of growing them in a loop: each growth copies the whole block (a comprehension grows by appends too).',
  },
  'gc-cycles': {
    title: 'Reference cycles held memory until the garbage collector freed it',
    advice:
      'Break the cycles: hold back-references with weakref (weakref.ref, WeakValueDictionary), or clear them explicitly (obj.parent = None, del) when done, so reference counting frees the memory at once.',
  },
} as const;

export type FindingKind = keyof typeof FINDING_TEXT;

export interface FindingCommon {
  readonly title: string;
  readonly advice: string;
  /** The memory the finding is about (ranks findings); 0 when it is about counts. */
  readonly bytes: number;
}

export interface KeptItem {
  /** The stack of the allocations (frame ids, root first). */
  readonly frames: readonly number[];
  /** The function that made them (a frame id on the stack). */
  readonly maker: number;
  readonly bytes: number;
  readonly count: number;
  /** Of those, still live at the end. */
  readonly liveAtEndBytes: number;
  readonly liveAtEndCount: number;
  /** When the first of them was made (ns since tracking started). */
  readonly firstAllocNs: number;
  /** When the maker had returned, by then (its thread allocated outside it); the latest of them. */
  readonly makerReturnedNs: number;
  /** The longest time one of them outlived its maker. */
  readonly outlivedNs: number;
}

export interface ThreadEvidence {
  readonly started: number;
  readonly ended: number;
  /** Threads started after another worker thread had ended. */
  readonly replacements: number;
  readonly maxAlive: number;
  readonly maxAliveNs: number | undefined;
  readonly firstStartNs: number | undefined;
  readonly lastStartNs: number | undefined;
  /** Median life of the threads that ended, ns. */
  readonly medianLifeNs: number | undefined;
  /** What the threads ran: their outermost frame of the program's own code (frame id, -1 when none). */
  readonly entries: readonly { readonly frame: number; readonly threads: number }[];
}

export interface GrowthItem {
  /** The allocating line (frame id) and one full stack through it (the one with the most growths). */
  readonly line: number;
  readonly frames: readonly number[];
  readonly growths: number;
  readonly copiedBytes: number;
  readonly maxBytes: number;
}

export type Finding =
  | (FindingCommon & { readonly kind: 'large-objects-kept'; readonly items: readonly KeptItem[]; readonly endNs: number })
  | (FindingCommon & { readonly kind: 'thread-churn' | 'many-threads'; readonly threads: ThreadEvidence })
  | (FindingCommon & { readonly kind: 'process-churn'; readonly forks: number; readonly firstNs: number; readonly lastNs: number; readonly childPids: readonly number[] })
  | (FindingCommon & { readonly kind: 'collection-growth'; readonly items: readonly GrowthItem[] })
  | (FindingCommon & {
      readonly kind: 'gc-cycles';
      readonly allocations: number;
      /** Collections that freed tracked memory, and the one that freed the most. */
      readonly collections: number;
      readonly largest: { readonly timeNs: number; readonly generation: number; readonly bytes: number } | undefined;
      readonly stacks: readonly StackAmount[];
    });

export interface FindingsOptions {
  readonly filter?: FrameFilter | undefined;
  /** The GC report, when the caller has it already. */
  readonly gc?: GcReport | undefined;
}

/** The findings of a capture, largest memory first, then the ones about counts. */
export function findings(model: CaptureModel, facts: ForensicFacts | undefined, options: FindingsOptions = {}): Finding[] {
  const filter = options.filter ?? DEFAULT_FRAME_FILTER;
  const out: Finding[] = [];
  const minBytes = Math.max(MIN_FINDING_BYTES, MIN_FINDING_SHARE * model.maxHeap);
  if (facts !== undefined && !model.aggregated) {
    const kept = keptObjects(model, facts, filter, minBytes);
    if (kept !== undefined) out.push(kept);
    const growth = collectionGrowth(model, facts, filter);
    if (growth !== undefined) out.push(growth);
    const gc = gcCycles(model, options.gc ?? gcReport(model, facts.gcFrees, filter), minBytes);
    if (gc !== undefined) out.push(gc);
  }
  out.push(...threadFindings(model, filter));
  const forks = processChurn(model);
  if (forks !== undefined) out.push(forks);
  return out.sort((a, b) => b.bytes - a.bytes);
}

// ── large objects kept ─────────────────────────────────────────────────────────────────────────────

const COMPREHENSION = /^(.*\.)?<(listcomp|dictcomp|setcomp|genexpr|lambda)>$/;

/**
 * The Python stack node of the function that made an allocation: the innermost frame of the program's
 * own code (not the stdlib or an installed package, which return what they made to it), comprehensions
 * and lambdas left to their enclosing function. 0 when that is module level or there is none.
 */
function makerNode(model: CaptureModel, pyNode: number, filter: FrameFilter): number {
  const fr = model.frames;
  let fallback = 0;
  for (let n = pyNode; n > 0; n = fr.pyParent[n] as number) {
    const id = fr.pyFrame[n] as number;
    if (!fr.visible(id, filter)) continue;
    const f = fr.frame(id);
    if (COMPREHENSION.test(f.function)) continue;
    if (f.function === '<module>') return fallback;
    if (f.moduleType === 'stdlib' || f.moduleType === 'site-packages') {
      if (fallback === 0) fallback = n;
      continue;
    }
    return n;
  }
  return fallback;
}

function keptObjects(model: CaptureModel, facts: ForensicFacts, filter: FrameFilter, minBytes: number): Finding | undefined {
  const large = facts.lifetimes.large;
  if (large.length === 0) return undefined;
  const fr = model.frames;
  const sites = model.sites;
  const endNs = lastSnapshotNs(model) ?? model.durationNs;
  const runNs = endNs;
  if (runNs <= 0) return undefined;
  const makerOfSite = new Map<number, number>();

  interface Group {
    frames: number[];
    maker: number;
    bytes: number;
    count: number;
    liveBytes: number;
    liveCount: number;
    first: number;
    returned: number;
    outlived: number;
  }
  const groups = new Map<string, Group>();
  for (const a of large) {
    let n = makerOfSite.get(a.site);
    if (n === undefined) {
      n = makerNode(model, sites.pyStack(a.site), filter);
      makerOfSite.set(a.site, n);
    }
    if (n === 0) continue;
    // Only with evidence that the maker returned: its thread allocated outside it afterwards.
    const returned = a.returnedNs.get(n);
    if (returned === undefined) continue;
    const heldEnd = a.freeNs ?? endNs;
    const outlived = heldEnd - returned;
    if (outlived < LONG_LIVED_MIN_NS) continue;
    const kept = a.freeNs === undefined ? outlived >= KEPT_AT_END_SHARE * runNs : heldEnd - a.allocNs >= KEPT_MOST_OF_RUN_SHARE * runNs;
    if (!kept) continue;
    const frames = fr.stack(sites.pyStack(a.site), sites.nativeStack(a.site), filter);
    const key = frames.join(',');
    let g = groups.get(key);
    if (g === undefined) {
      g = { frames, maker: fr.pyFrame[n] as number, bytes: 0, count: 0, liveBytes: 0, liveCount: 0, first: a.allocNs, returned, outlived: 0 };
      groups.set(key, g);
    }
    g.bytes += a.bytes;
    g.count++;
    if (a.freeNs === undefined) {
      g.liveBytes += a.bytes;
      g.liveCount++;
    }
    g.first = Math.min(g.first, a.allocNs);
    g.returned = Math.max(g.returned, returned);
    g.outlived = Math.max(g.outlived, outlived);
  }
  const items: KeptItem[] = [...groups.values()]
    .filter((g) => g.bytes >= minBytes)
    .sort((a, b) => b.bytes - a.bytes)
    .map((g) => ({
      frames: g.frames,
      maker: g.maker,
      bytes: g.bytes,
      count: g.count,
      liveAtEndBytes: g.liveBytes,
      liveAtEndCount: g.liveCount,
      firstAllocNs: g.first,
      makerReturnedNs: g.returned,
      outlivedNs: g.outlived,
    }));
  if (items.length === 0) return undefined;
  return {
    kind: 'large-objects-kept',
    ...FINDING_TEXT['large-objects-kept'],
    bytes: items.reduce((a, i) => a + i.bytes, 0),
    items: items.slice(0, EVIDENCE_ROWS),
    endNs,
  };
}

// ── collections grown by realloc ───────────────────────────────────────────────────────────────────

const REALLOCATORS = new Set<number>([Allocator.Realloc, Allocator.PymallocRealloc, Allocator.Reallocarray, Allocator.Mremap]);

/** The allocating line the program can change: the innermost frame of its own code, else the innermost. */
function ownLine(model: CaptureModel, frames: readonly number[]): number {
  for (let i = frames.length - 1; i >= 0; i--) {
    const f = model.frames.frame(frames[i] as number);
    if (!f.native && f.moduleType !== 'stdlib' && f.moduleType !== 'site-packages') return f.id;
  }
  return frames[frames.length - 1] ?? -1;
}

function collectionGrowth(model: CaptureModel, facts: ForensicFacts, filter: FrameFilter): Finding | undefined {
  const r = facts.reallocs;
  interface Line {
    growths: number;
    copied: number;
    max: number;
    best: number;
    frames: readonly number[];
  }
  const lines = new Map<number, Line>();
  const sites = model.sites;
  for (let s = 0; s < r.growths.length; s++) {
    const growths = r.growths[s] as number;
    if (growths === 0 || !REALLOCATORS.has(sites.allocator(s))) continue;
    const frames = model.frames.stack(sites.pyStack(s), sites.nativeStack(s), filter);
    const line = ownLine(model, frames);
    let l = lines.get(line);
    if (l === undefined) {
      l = { growths: 0, copied: 0, max: 0, best: 0, frames };
      lines.set(line, l);
    }
    l.growths += growths;
    l.copied += r.copiedBytes[s] as number;
    l.max = Math.max(l.max, r.maxBytes[s] as number);
    if (growths > l.best) {
      l.best = growths;
      l.frames = frames;
    }
  }
  const items: GrowthItem[] = [...lines]
    .filter(([, l]) => l.growths >= GROWTH_MIN_EVENTS && l.max >= GROWTH_MIN_BYTES)
    .sort((a, b) => b[1].copied - a[1].copied)
    .map(([line, l]) => ({ line, frames: l.frames, growths: l.growths, copiedBytes: l.copied, maxBytes: l.max }));
  if (items.length === 0) return undefined;
  return {
    kind: 'collection-growth',
    ...FINDING_TEXT['collection-growth'],
    bytes: items.reduce((a, i) => a + i.maxBytes, 0),
    items: items.slice(0, EVIDENCE_ROWS),
  };
}

// ── reference cycles ───────────────────────────────────────────────────────────────────────────────

function gcCycles(model: CaptureModel, gc: GcReport, minBytes: number): Finding | undefined {
  if (gc.bytesFreed === undefined || gc.bytesFreed < minBytes) return undefined;
  let collections = 0;
  let largest: { timeNs: number; generation: number; bytes: number } | undefined;
  // Per collection (model.gcs order): gc.ts matched them to the observer's figures; recount here.
  const perGc = gcPerCollection(model, gc);
  for (const p of perGc) {
    if (p.bytes <= 0) continue;
    collections++;
    if (largest === undefined || p.bytes > largest.bytes) largest = p;
  }
  return {
    kind: 'gc-cycles',
    ...FINDING_TEXT['gc-cycles'],
    bytes: gc.bytesFreed,
    allocations: gc.allocationsFreed ?? 0,
    collections,
    largest,
    stacks: gc.freedByStack.slice(0, EVIDENCE_ROWS),
  };
}

function gcPerCollection(model: CaptureModel, gc: GcReport): { timeNs: number; generation: number; bytes: number }[] {
  return model.gcs.map((r, i) => ({ timeNs: r.timeNs, generation: r.generation, bytes: gc.perCollectionBytes[i] ?? 0 }));
}

// ── threads and processes ──────────────────────────────────────────────────────────────────────────

/** The thread that started tracking (run mode: the main thread). */
export function isMainThread(model: CaptureModel, t: ThreadInfo): boolean {
  return t.osTid !== 0 && (t.osTid === model.header.mainTid || t.osTid === model.header.pid);
}

export function threadEvidence(model: CaptureModel, filter: FrameFilter = DEFAULT_FRAME_FILTER): ThreadEvidence {
  const seen = model.threads.filter((t) => t.startNs !== undefined);
  const workers = seen.filter((t) => !isMainThread(model, t));
  let firstExit = Infinity;
  for (const t of workers) if (t.exitNs !== undefined && t.exitNs < firstExit) firstExit = t.exitNs;
  const replacements = workers.filter((t) => (t.startNs as number) > firstExit).length;
  // Threads alive at once: +1 at each start, -1 at each exit, in time order (exits first on ties).
  const events: [number, number][] = [];
  for (const t of seen) {
    events.push([t.startNs as number, 1]);
    if (t.exitNs !== undefined) events.push([t.exitNs, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let alive = 0;
  let maxAlive = 0;
  let maxAliveNs: number | undefined;
  for (const [time, d] of events) {
    alive += d;
    if (alive > maxAlive) {
      maxAlive = alive;
      maxAliveNs = time;
    }
  }
  const lives = workers.filter((t) => t.exitNs !== undefined).map((t) => (t.exitNs as number) - (t.startNs as number)).sort((a, b) => a - b);
  let firstStartNs: number | undefined;
  let lastStartNs: number | undefined;
  for (const t of workers) {
    const s = t.startNs as number;
    if (firstStartNs === undefined || s < firstStartNs) firstStartNs = s;
    if (lastStartNs === undefined || s > lastStartNs) lastStartNs = s;
  }
  return {
    started: workers.length,
    ended: workers.filter((t) => t.exitNs !== undefined).length,
    replacements,
    maxAlive,
    maxAliveNs,
    firstStartNs,
    lastStartNs,
    medianLifeNs: lives.length > 0 ? lives[Math.floor(lives.length / 2)] : undefined,
    entries: threadEntries(model, new Set(workers.map((t) => t.index)), filter),
  };
}

/**
 * What worker threads ran: per thread, the outermost frame of the program's own code on any of its stacks
 * (threading's Thread.run calls the target), else the outermost frame of its first stack.
 */
function threadEntries(model: CaptureModel, workers: ReadonlySet<number>, filter: FrameFilter): { frame: number; threads: number }[] {
  const own = new Map<number, number>();
  const any = new Map<number, number>();
  const sites = model.sites;
  for (let s = 0; s < sites.size; s++) {
    const thread = sites.thread(s);
    if (!workers.has(thread) || own.has(thread)) continue;
    const frames = model.frames.stack(sites.pyStack(s), 0, filter);
    if (frames.length === 0) continue;
    if (!any.has(thread)) any.set(thread, frames[0] as number);
    for (const id of frames) {
      const f = model.frames.frame(id);
      if (!f.native && f.moduleType !== 'stdlib' && f.moduleType !== 'site-packages') {
        own.set(thread, id);
        break;
      }
    }
  }
  const counts = new Map<number, number>();
  for (const t of workers) {
    const e = own.get(t) ?? any.get(t) ?? -1;
    counts.set(e, (counts.get(e) ?? 0) + 1);
  }
  return [...counts].map(([frame, threads]) => ({ frame, threads })).sort((a, b) => b.threads - a.threads || a.frame - b.frame);
}

function threadFindings(model: CaptureModel, filter: FrameFilter): Finding[] {
  const ev = threadEvidence(model, filter);
  const out: Finding[] = [];
  if (ev.replacements >= THREAD_CHURN_MIN) out.push({ kind: 'thread-churn', ...FINDING_TEXT['thread-churn'], bytes: 0, threads: ev });
  if (ev.maxAlive >= MANY_THREADS_MIN) out.push({ kind: 'many-threads', ...FINDING_TEXT['many-threads'], bytes: 0, threads: ev });
  return out;
}

function processChurn(model: CaptureModel): Finding | undefined {
  const forks = model.forks;
  if (forks.length < FORK_CHURN_MIN) return undefined;
  let firstNs = Infinity;
  let lastNs = -Infinity;
  for (const f of forks) {
    firstNs = Math.min(firstNs, f.timeNs);
    lastNs = Math.max(lastNs, f.timeNs);
  }
  return {
    kind: 'process-churn',
    ...FINDING_TEXT['process-churn'],
    bytes: 0,
    forks: forks.length,
    firstNs,
    lastNs,
    childPids: forks.slice(0, EVIDENCE_ROWS).map((f) => f.childPid),
  };
}

/** Time of the last memory snapshot (the end of what the capture saw), if any. */
export function lastSnapshotNs(model: CaptureModel): number | undefined {
  const t = model.snapshots.timeNs;
  return t.length > 0 ? t[t.length - 1] : undefined;
}
