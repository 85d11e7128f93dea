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
  raw.sort((a, b) => a.fromNs - b.fromNs);
  const out: { fromNs: number; toNs: number }[] = [];
  for (const p of raw) {
    const last = out[out.length - 1];
    if (last !== undefined && p.fromNs <= last.toNs) last.toNs = Math.max(last.toNs, p.toNs);
    else out.push({ ...p });
  }
  return out;
}

/** The program's own clock: time since tracking started, less memlens's pauses before it. */
export interface ProgramClock {
  toProgram(realNs: number): number;
  /** The real time of a moment of the program's clock (a moment at a pause's start is before the pause). */
  toReal(programNs: number): number;
  /** How long memlens paused the program between two real times. */
  pausedBetween(fromNs: number, toNs: number): number;
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
