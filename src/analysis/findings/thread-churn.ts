// Threads created and destroyed over and over, and many threads alive at once. The advice: pool threads
// (a few long-lived workers run many tasks), since every thread holds a stack, often its own malloc arena,
// and the work waiting in it. Connections would belong here too, but a capture has no record of sockets.
//
// The evidence (threadEvidence) is also the verdict's thread summary.

import { DEFAULT_FRAME_FILTER, type FrameFilter } from '../../model/frames.js';
import { type FrameId, NO_NATIVE_NODE, type SiteId, type ThreadIndex } from '../../model/ids.js';
import type { CaptureModel, ThreadInfo } from '../../model/model.js';
import { type DetectorInput, type FindingCommon, isOwnCode } from './finding.js';

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

export const THREAD_CHURN_TEXT = {
  title: 'Threads created and destroyed over and over',
  advice: 'Use a pool: concurrent.futures.ThreadPoolExecutor (or one long-lived worker thread and a queue) runs many tasks on a few threads, instead of starting a thread per task.',
} as const;

export const MANY_THREADS_TEXT = {
  title: 'Many threads alive at once',
  advice:
    'Bound the concurrency with a pool (concurrent.futures.ThreadPoolExecutor(max_workers=N)) or asyncio: every thread holds a stack and its own malloc arena, and waiting threads hold their work in memory.',
} as const;

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
  readonly entries: readonly { readonly frame: FrameId | -1; readonly threads: number }[];
}

export interface ThreadFinding extends FindingCommon {
  readonly kind: 'thread-churn' | 'many-threads';
  readonly threads: ThreadEvidence;
}

/** Works on every capture (threads are recorded in aggregated ones too). */
export function threadFindings({ model, filter }: DetectorInput): ThreadFinding[] {
  const ev = threadEvidence(model, filter);
  const out: ThreadFinding[] = [];
  if (ev.replacements >= THREAD_CHURN_MIN) out.push({ kind: 'thread-churn', ...THREAD_CHURN_TEXT, bytes: 0, lines: [], threads: ev });
  if (ev.maxAlive >= MANY_THREADS_MIN) out.push({ kind: 'many-threads', ...MANY_THREADS_TEXT, bytes: 0, lines: [], threads: ev });
  return out;
}

/** The thread that started tracking (run mode: the main thread). */
export function isMainThread(model: CaptureModel, t: ThreadInfo): boolean {
  return t.osTid !== 0 && (t.osTid === model.header.mainTid || t.osTid === model.header.pid);
}

export function threadEvidence(model: CaptureModel, filter: FrameFilter = DEFAULT_FRAME_FILTER): ThreadEvidence {
  const seen = model.threads.filter((t) => t.startNs !== undefined);
  const workers = seen.filter((t) => !isMainThread(model, t));
  let firstExit = Infinity;
  for (const t of workers) if (t.exitNs !== undefined && t.exitNs < firstExit) firstExit = t.exitNs;
  const replacements = workers.filter((t) => t.startNs! > firstExit).length;
  // Threads alive at once: +1 at each start, -1 at each exit, in time order (exits first on ties).
  const events: [number, number][] = [];
  for (const t of seen) {
    events.push([t.startNs!, 1]);
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
  const lives = workers
    .filter((t) => t.exitNs !== undefined)
    .map((t) => t.exitNs! - t.startNs!)
    .sort((a, b) => a - b);
  let firstStartNs: number | undefined;
  let lastStartNs: number | undefined;
  for (const t of workers) {
    const s = t.startNs!;
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
function threadEntries(model: CaptureModel, workers: ReadonlySet<ThreadIndex>, filter: FrameFilter): { frame: FrameId | -1; threads: number }[] {
  const own = new Map<ThreadIndex, FrameId>();
  const any = new Map<ThreadIndex, FrameId>();
  const sites = model.sites;
  // No worker, or each has its own-code frame: the sites left have nothing to add (a pass over call_sites' 2.6 M
  // sites, twice, was ~0.18 s of its verdict for a program without worker threads; docs/benchmarks.md, round
  // thirty-three).
  for (let s = 0 as SiteId; s < sites.size && own.size < workers.size; s++) {
    const thread = sites.thread(s);
    if (!workers.has(thread) || own.has(thread)) continue;
    const frames = model.frames.stack(sites.pyStack(s), NO_NATIVE_NODE, filter);
    if (frames.length === 0) continue;
    if (!any.has(thread)) any.set(thread, frames[0]!);
    for (const id of frames) {
      if (isOwnCode(model.frames.frame(id))) {
        own.set(thread, id);
        break;
      }
    }
  }
  const counts = new Map<FrameId | -1, number>();
  for (const t of workers) {
    const e = own.get(t) ?? any.get(t) ?? -1;
    counts.set(e, (counts.get(e) ?? 0) + 1);
  }
  return [...counts].map(([frame, threads]) => ({ frame, threads })).sort((a, b) => b.threads - a.threads || a.frame - b.frame);
}
