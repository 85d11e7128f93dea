// What a process tree holds in memory apart from the code it maps, for bench/report-speed.ts: its anonymous
// (RssAnon: heaps, stacks, V8's spaces, malloc's arenas), file-backed (RssFile: the executable, its shared
// libraries, any file mapped) and shared (RssShmem) resident pages, read from /proc/PID/status while the tree
// runs. A report's maximum RSS (wait4's, /usr/bin/time's %M) mixes them: a node process maps ~34 MiB of its
// own executable and libraries before it runs a line of JavaScript (`node -e 0`), python with memray's
// extension much less, so on a small live set max RSS compares the runtimes more than the reports.
//
// Sampled, so a peak between two samples is missed: a spike shorter than the interval (a buffer allocated and
// freed within 20 ms, the last moments before exit) may not be seen, and the sampled peaks are lower bounds.
// The kernel keeps no high-water mark of RssAnon or RssFile alone, only of their sum (VmHWM, what wait4
// reports as ru_maxrss), and a process's memory cannot be read from outside once it has exited (its mm is
// gone before its parent sees the zombie), so wait4's maximum RSS stays the exact figure; each sample's
// VmHWM is kept as well, and shows how much of that peak the samples saw the time of.
//
// The anon and file peaks are each the largest of its own sums over the tree, which may come from different
// samples: the largest RssAnon and the largest RssFile the tree held, not a split of one moment's RSS.
//
// Parsing and aggregation are pure functions of /proc text (bench/proc-memory.test.ts); TreeSampler reads
// /proc: per sample one `children` file per thread of each process in the tree and one `status` per process,
// no child process, no smaps (smaps_rollup walks the page tables under the mm's lock: too dear 50 times a
// second for the process measured).

import { readFileSync, readdirSync } from 'node:fs';

/** One process's resident memory from /proc/PID/status, in KiB. */
export interface ProcMemory {
  readonly rssKb: number;
  readonly anonKb: number;
  readonly fileKb: number;
  readonly shmemKb: number;
  /** VmHWM: the process's largest RSS so far (anon + file + shmem at one moment), the kernel's own count. */
  readonly hwmKb: number;
}

const FIELDS = { VmRSS: 'rssKb', RssAnon: 'anonKb', RssFile: 'fileKb', RssShmem: 'shmemKb', VmHWM: 'hwmKb' } as const;

/**
 * The resident memory in a /proc/PID/status text; undefined when it has none (a zombie, whose memory is
 * already freed, or a kernel thread): such a process holds nothing to count.
 */
export function parseStatus(text: string): ProcMemory | undefined {
  const got: Partial<Record<keyof ProcMemory, number>> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const field = FIELDS[line.slice(0, colon) as keyof typeof FIELDS] as keyof ProcMemory | undefined;
    if (field === undefined) continue;
    const m = /^\s*(\d+)\s+kB\s*$/.exec(line.slice(colon + 1));
    if (m === null) throw new Error(`unexpected /proc status line: ${line}`);
    got[field] = Number(m[1]);
  }
  const { rssKb, anonKb, fileKb, shmemKb, hwmKb } = got;
  if (anonKb === undefined || fileKb === undefined || shmemKb === undefined) return undefined;
  return { rssKb: rssKb ?? anonKb + fileKb + shmemKb, anonKb, fileKb, shmemKb, hwmKb: hwmKb ?? 0 };
}

/** The pids in a /proc/PID/task/TID/children text (space-separated). */
export function parseChildren(text: string): number[] {
  return text
    .split(/\s+/)
    .filter((w) => w !== '')
    .map(Number);
}

/** The descendants of `root` (not root itself), parents before children, by `childrenOf` (pids, possibly repeated). */
export function descendants(root: number, childrenOf: (pid: number) => readonly number[]): number[] {
  const seen = new Set<number>([root]);
  const out: number[] = [];
  const todo = [root];
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    for (const c of childrenOf(pid)) {
      if (seen.has(c)) continue;
      seen.add(c);
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/** The peaks of a process tree over its samples, in KiB. */
export interface MemoryPeaks {
  /** The largest sum of RssAnon over the tree's processes in one sample; likewise fileKb, shmemKb, rssKb. */
  readonly anonKb: number;
  readonly fileKb: number;
  readonly shmemKb: number;
  readonly rssKb: number;
  /** The largest VmHWM of one process seen (not a sum: what wait4's ru_maxrss reports for a tree). */
  readonly hwmKb: number;
  /** Samples that found at least one process with memory; the most processes found in one sample. */
  readonly samples: number;
  readonly processes: number;
}

export const NO_PEAKS: MemoryPeaks = { anonKb: 0, fileKb: 0, shmemKb: 0, rssKb: 0, hwmKb: 0, samples: 0, processes: 0 };

/** `peaks` with one more sample of the tree: the memory of each process found in it. */
export function addSample(peaks: MemoryPeaks, tree: readonly ProcMemory[]): MemoryPeaks {
  if (tree.length === 0) return peaks;
  let anon = 0;
  let file = 0;
  let shmem = 0;
  let rss = 0;
  let hwm = peaks.hwmKb;
  for (const p of tree) {
    anon += p.anonKb;
    file += p.fileKb;
    shmem += p.shmemKb;
    rss += p.rssKb;
    hwm = Math.max(hwm, p.hwmKb);
  }
  return {
    anonKb: Math.max(peaks.anonKb, anon),
    fileKb: Math.max(peaks.fileKb, file),
    shmemKb: Math.max(peaks.shmemKb, shmem),
    rssKb: Math.max(peaks.rssKb, rss),
    hwmKb: hwm,
    samples: peaks.samples + 1,
    processes: Math.max(peaks.processes, tree.length),
  };
}

/** The largest of several runs' peaks, field by field (as report-speed takes the largest RSS of its runs). */
export function maxPeaks(runs: readonly MemoryPeaks[]): MemoryPeaks {
  return runs.reduce(
    (a, b) => ({
      anonKb: Math.max(a.anonKb, b.anonKb),
      fileKb: Math.max(a.fileKb, b.fileKb),
      shmemKb: Math.max(a.shmemKb, b.shmemKb),
      rssKb: Math.max(a.rssKb, b.rssKb),
      hwmKb: Math.max(a.hwmKb, b.hwmKb),
      samples: a.samples + b.samples,
      processes: Math.max(a.processes, b.processes),
    }),
    NO_PEAKS,
  );
}

const mib = (kb: number): string => (kb / 1024).toFixed(1);

/**
 * How much of the process's own peak (VmHWM) the samples missed at least, in KiB: the anon, file and shmem
 * peaks, each the largest of its samples, add up to at least the RSS of any one sample, so a sum below VmHWM
 * means the peak's moment fell between two samples (a short spike) or after the last one. Meaningful for a
 * tree of one process (VmHWM is one process's).
 */
export function unseenKb(p: MemoryPeaks): number {
  return Math.max(0, p.hwmKb - p.anonKb - p.fileKb - p.shmemKb);
}

/** A shortfall below this is the status counters' own imprecision (per-CPU counts), not a missed spike. */
const UNSEEN_FROM_KB = 1024;

/**
 * A table cell for several runs' peaks: `anon A / file F MiB` (the largest of the runs), each run's anon peak
 * when there are several, shmem when any, then the largest VmHWM seen, the samples taken, and what the samples
 * missed of the peak when a run's shortfall (unseenKb) is 1 MiB or more; '–' when no run was sampled.
 */
export function formatPeaks(runs: readonly MemoryPeaks[]): string {
  const m = maxPeaks(runs);
  if (m.samples === 0) return '–';
  const each = runs.length > 1 ? ` (${runs.map((r) => mib(r.anonKb)).join('/')})` : '';
  const shmem = m.shmemKb > 0 ? ` / shmem ${mib(m.shmemKb)}` : '';
  const procs = m.processes > 1 ? `, ${m.processes} processes` : '';
  const missed = Math.max(...runs.map(unseenKb));
  const unseen = missed >= UNSEEN_FROM_KB ? `, ≥${mib(missed)} of the peak unseen` : '';
  return `anon ${mib(m.anonKb)}${each} / file ${mib(m.fileKb)}${shmem} MiB (HWM ${mib(m.hwmKb)}, ${m.samples} samples${procs}${unseen})`;
}

/** The difference of two sets of runs' anonymous peaks in MiB (a − b), '–' when either was not sampled. */
export function anonDifference(a: readonly MemoryPeaks[], b: readonly MemoryPeaks[]): string {
  const x = maxPeaks(a);
  const y = maxPeaks(b);
  if (x.samples === 0 || y.samples === 0) return '–';
  const d = (x.anonKb - y.anonKb) / 1024;
  return `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(1)} MiB`;
}

/** The text of a /proc file, or undefined when it is gone (the process or thread has exited). */
function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

/** The children of every thread of `pid` (a child belongs to the thread that forked it). */
function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tasks.flatMap((tid) => parseChildren(readProc(`/proc/${pid}/task/${tid}/children`) ?? ''));
}

/** True when this kernel lists a process's children in /proc (CONFIG_PROC_CHILDREN). */
export function canListChildren(): boolean {
  return readProc(`/proc/${process.pid}/task/${process.pid}/children`) !== undefined;
}

/** One sample of the memory of `root`'s descendants (not root itself: /usr/bin/time, say). */
export function sampleTree(root: number): ProcMemory[] {
  const out: ProcMemory[] = [];
  for (const pid of descendants(root, childrenOf)) {
    const text = readProc(`/proc/${pid}/status`);
    const m = text === undefined ? undefined : parseStatus(text);
    if (m !== undefined) out.push(m);
  }
  return out;
}

/**
 * Samples the memory of a process's descendants every `intervalMs` on this process's event loop (setInterval:
 * the loop must stay free, so the process measured must be started with spawn, not spawnSync) until stop().
 */
export class TreeSampler {
  private peaks: MemoryPeaks = NO_PEAKS;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly root: number,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.sample();
  }

  sample(): void {
    this.peaks = addSample(this.peaks, sampleTree(this.root));
  }

  /** Stops sampling; the peaks seen. */
  stop(): MemoryPeaks {
    clearInterval(this.timer);
    return this.peaks;
  }
}
