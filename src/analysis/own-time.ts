// memlens's own time on the program's threads, taken out of the program's clock as its pauses are
// (memlens-pauses.ts). The agent records every allocation on the thread that makes it; with
// --trace-python-allocators that is every small object, and recording them took most of the time of a
// phase that makes many (examples/leaky_service.py on CPython 3.12: its last phase, 300 000 small ints,
// took 17 ms of CPU alone and 60 ms under memlens). Measured in wall time, that phase then looked three
// times as long after the leak as the leak itself, and the accumulation went unreported in half the runs
// on a busy machine. The agent times a sample of its recording calls (agent/src/owntime.h) and every
// SNAPSHOT carries the running total (flag 8, `ownNs`); between two snapshots the program's clock runs
// slower by the share of the interval that was memlens's (docs/own-time.md).
//
// Wall time, not CPU time: a program that sleeps keeps its sleep (a clock of CPU time made the corpus's
// kept_arrays and callback_registry, which hold by sleeping, read as accumulations), and only what memlens
// did on its threads is cut. The clock never runs slower than MIN_OWN_RATE: the total is an estimate
// (a timed call that a busy machine took off its core counts for the calls it stands for), and with
// threads that run at once (a free-threaded build, native code outside the GIL) their own times add up to
// more than the interval. Captures without the totals (agents before them) keep the inner clock. Pure.

import type { CaptureModel } from '../model/model.js';
import { programClock, programPauses, type ProgramClock } from './memlens-pauses.js';

/**
 * The slowest the clock runs in an interval: memlens's share of it is taken as at most 80%. Recording
 * 300 000 small objects was 72% of the phase that made them (examples/leaky_service.py, CPython 3.12).
 */
export const MIN_OWN_RATE = 0.2;

/**
 * `inner` (memlens's pauses cut) with memlens's own time cut too: `timeNs` and `ownNs` are the snapshots'
 * real times and running own-time totals (NaN where a snapshot has none). Between two snapshots the clock
 * runs at (interval − own time in it) / interval, at least MIN_OWN_RATE; before the first and after the last
 * as `inner`. `inner` itself when fewer than two snapshots carry a total or memlens's own time never grew.
 */
export function withOwnTime(inner: ProgramClock, timeNs: ArrayLike<number>, ownNs: ArrayLike<number>): ProgramClock {
  // Breakpoints on the inner clock's axis (x) and on this clock's (y).
  const x: number[] = [];
  const own: number[] = [];
  for (let k = 0; k < timeNs.length; k++) {
    const t = timeNs[k]!;
    const o = ownNs[k]!;
    if (!Number.isFinite(t) || !Number.isFinite(o)) continue;
    const at = inner.toProgram(t);
    if (x.length > 0 && at <= x[x.length - 1]!) continue;
    x.push(at);
    // The total only grows (a session's agent restarts it at 0: an older total is not carried over).
    own.push(Math.max(o, own.length > 0 ? own[own.length - 1]! : o));
  }
  if (x.length < 2 || own[own.length - 1]! <= own[0]!) return inner;
  const y = [x[0]!];
  for (let k = 0; k + 1 < x.length; k++) {
    const dx = x[k + 1]! - x[k]!;
    y.push(y[k]! + Math.max(MIN_OWN_RATE * dx, dx - (own[k + 1]! - own[k]!)));
  }
  const forward = (v: number): number => mapBetween(x, y, v);
  const back = (v: number): number => mapBetween(y, x, v);
  const toProgram = (t: number): number => forward(inner.toProgram(t));
  return {
    toProgram,
    toReal: (p) => inner.toReal(back(p)),
    // Everything between two real times that was not the program's: memlens's pauses and its own time.
    pausedBetween: (a, b) => b - a - (toProgram(b) - toProgram(a)),
    toPaced: inner.toPaced ?? ((t) => inner.toProgram(t)),
  };
}

/**
 * The program's clock of a capture: memlens's pauses (its censuses) and the process held still cut out
 * (memlens-pauses.ts), then memlens's own time on the program's threads (withOwnTime).
 */
export function programClockOf(model: CaptureModel): ProgramClock {
  // A model made by hand (a live view's, a test's) may have no such column: the inner clock then.
  const own = (model.snapshots.ownNs as readonly number[] | undefined) ?? [];
  return withOwnTime(programClock(programPauses(model)), model.snapshots.timeNs, own);
}

/** v on the piecewise-linear map through (from[k], to[k]) (from and to ascending), slope 1 outside them. */
function mapBetween(from: readonly number[], to: readonly number[], v: number): number {
  const n = from.length;
  if (!Number.isFinite(v) || v <= from[0]!) return Number.isFinite(v) ? v - from[0]! + to[0]! : v;
  if (v >= from[n - 1]!) return v - from[n - 1]! + to[n - 1]!;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (from[mid]! <= v) lo = mid;
    else hi = mid;
  }
  return to[lo]! + ((v - from[lo]!) * (to[lo + 1]! - to[lo]!)) / (from[lo + 1]! - from[lo]!);
}
