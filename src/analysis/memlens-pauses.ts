// memlens's own pauses of the program: the windows in which a census (taken by the agent near an OOM, as
// memory grows, or on request) held the program still, from the CENSUS records (each written right after
// its pause, with the pause's length in its JSON). They are memlens's, never the program's: the GC report
// does not call the collector's being off in them the program's gc.disable(), and the growth findings
// measure the program's pace on its own clock, with these windows cut out (a 200 ms census in a program
// that lives 400 ms would otherwise look like the program stalling). Pure.

import type { CaptureModel } from '../model/model.js';

export interface Pause {
  readonly fromNs: number;
  readonly toNs: number;
}

/** The windows memlens's censuses paused the program, in time order, overlapping ones merged. */
export function memlensPauses(model: CaptureModel): Pause[] {
  const raw: Pause[] = [];
  for (const c of model.censuses) {
    let pauseMs: unknown;
    try {
      pauseMs = (JSON.parse(c.json) as { pause_ms?: unknown } | null)?.pause_ms;
    } catch {
      continue;
    }
    if (typeof pauseMs !== 'number' || !Number.isFinite(pauseMs) || pauseMs <= 0) continue;
    raw.push({ fromNs: Math.max(0, c.timeNs - pauseMs * 1e6), toNs: c.timeNs });
  }
  return mergeWindows(raw);
}

/** Windows in time order, overlapping ones merged. */
function mergeWindows(windows: readonly Pause[]): Pause[] {
  const sorted = windows.slice().sort((a, b) => a.fromNs - b.fromNs);
  const out: { fromNs: number; toNs: number }[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && p.fromNs <= last.toNs) last.toNs = Math.max(last.toNs, p.toNs);
    else out.push({ ...p });
  }
  return out;
}

/**
 * A gap between snapshots this long, and this many times their usual spacing, means the process was held
 * still: the agent's snapshot thread did not run, and neither did the program. A debugger does that
 * (memlens detach and attach stop the process while their debugger works: seconds on a busy machine), as
 * do SIGSTOP and a frozen machine; a thread merely waiting for a core is late by milliseconds. The usual
 * spacing is the median gap, not the header's interval: a writer may snapshot less often than that.
 */
export const STOPPED_GAP_MIN_NS = 1e9;
export const STOPPED_GAP_MIN_SPACINGS = 50;

/**
 * The windows in which the whole process was held still, from the snapshots' gaps: from one usual spacing
 * after the snapshot before the gap (when the next was due) to the snapshot after it. Not the program's
 * time: growth measured across such a window would otherwise read as the program stalling (an attached
 * capture ended by memlens detach would end on a plateau as long as the debugger took). Pure.
 */
export function stoppedWindows(model: CaptureModel): Pause[] {
  const t = model.snapshots.timeNs;
  const gaps: number[] = [];
  for (let i = 1; i < t.length; i++) if (Number.isFinite(t[i]!) && Number.isFinite(t[i - 1]!)) gaps.push(t[i]! - t[i - 1]!);
  if (gaps.length < 3) return [];
  const spacing = gaps.slice().sort((a, b) => a - b)[gaps.length >> 1]!;
  const min = Math.max(STOPPED_GAP_MIN_NS, STOPPED_GAP_MIN_SPACINGS * spacing);
  const out: Pause[] = [];
  for (let i = 1; i < t.length; i++) {
    const a = t[i - 1]!;
    const b = t[i]!;
    if (b - a >= min) out.push({ fromNs: a + spacing, toNs: b });
  }
  return out;
}

/** Every window the program did not run in: memlens's censuses and the process held still, merged, in order. */
export function programPauses(model: CaptureModel): Pause[] {
  return mergeWindows([...memlensPauses(model), ...stoppedWindows(model)]);
}

/** The program's own clock: time since tracking started, less memlens's pauses before it. */
export interface ProgramClock {
  toProgram(realNs: number): number;
  /** The real time of a moment of the program's clock (a moment at a pause's start is before the pause). */
  toReal(programNs: number): number;
  /** How long memlens paused the program between two real times. */
  pausedBetween(fromNs: number, toNs: number): number;
  /**
   * The time on which the snapshots' pace is judged, when it is not toProgram: memlens's own work on the
   * program's threads (own-time.ts) slows the program's clock, not the snapshot thread's pace.
   */
  readonly toPaced?: (realNs: number) => number;
}

export function programClock(pauses: readonly Pause[]): ProgramClock {
  const pausedBefore = (t: number): number => {
    let s = 0;
    for (const p of pauses) s += Math.min(Math.max(t - p.fromNs, 0), p.toNs - p.fromNs);
    return s;
  };
  return {
    toProgram: (t) => (Number.isFinite(t) ? t - pausedBefore(t) : t),
    toReal: (t) => {
      if (!Number.isFinite(t)) return t;
      let shift = 0;
      for (const p of pauses) {
        if (t + shift > p.fromNs) shift += p.toNs - p.fromNs;
        else break;
      }
      return t + shift;
    },
    pausedBetween: (a, b) => pausedBefore(b) - pausedBefore(a),
  };
}
