// The memory a series kept: of a line's live memory sampled over the run, the part that was never given
// back afterwards, and how it came. The floor at a moment is the least the line held from then to the end
// (a suffix minimum); it only rises, and what it rose by is memory that, once allocated, stayed. A
// sawtooth (a batch that frees each round) keeps its floor near zero until its last round; a plateau raises
// it once, early; an accumulation raises it again and again, up to the end.
//
//   live  ▁▂▃▄▅▆▇█      floor ▁▂▃▄▅▆▇█   accumulation: rises all along
//   live  ▁▅▁▅▁▅▁▅      floor ▁▁▁▁▁▁▁▅   sawtooth: one rise, at the end
//   live  ▁▇▇▇▇▇▇▇      floor ▁▇▇▇▇▇▇▇   plateau: one rise, at the start

import type { ProgramClock } from '../memlens-pauses.js';

/** The shape of what a series kept; times in ns since tracking started. */
export interface RetainedGrowth {
  /** Where the series starts to matter: the sample before its first nonzero value. */
  readonly fromNs: number;
  /** Its last sample measured: the end of the capture, or when the process reached its memory limit. */
  readonly toNs: number;
  /** What the floor rose by from `fromNs` to `toNs`. */
  readonly bytes: number;
  /** Samples at which the floor rose (by at least RISE_MIN_SHARE of `bytes`), of the samples after fromNs. */
  readonly rises: number;
  /**
   * The same, with a rise whose interval spans several of the series' usual intervals (its median) counted
   * as that many: a snapshot that came late (its thread not scheduled, on a busy machine) would have
   * seen the rise come in as many steps, had it come on time. See ACCUMULATION_MIN_RISES.
   */
  readonly pacedRises: number;
  readonly samples: number;
  /**
   * The largest single rise, and the rise in each half of [fromNs, toNs], as shares of `bytes` (the rise of
   * the interval that holds the mid-point split between the halves in proportion to time).
   */
  readonly largestRiseShare: number;
  /** The share of [fromNs, toNs] that the interval of the largest rise spans (its sample and the one before). */
  readonly largestRiseTimeShare: number;
  /**
   * The mean size of the allocations the largest rise kept over that of the allocations the other rises
   * kept (each the rise of the floor of the live count, as `bytes` is of the live bytes): about 1 where one
   * kind of object was kept throughout, and some came in a burst; large where the rise was a big load amid
   * small ones. Undefined without counts, or where either part kept no more allocations than it had (a
   * buffer grown by realloc keeps one), so that nothing is known of their sizes.
   */
  readonly largestRiseSizeRatio: number | undefined;
  readonly firstHalfShare: number;
  readonly secondHalfShare: number;
  /**
   * firstHalfShare with the split moved to PACE_SPLITS[0] and [1] of [fromNs, toNs] instead of its middle:
   * what the first half would have gained had the part of the run before its middle gone PACE_RATIO times
   * slower ([0]) or faster ([1]) than the part after it (see PACE_RATIO).
   */
  readonly firstShareAtPace: readonly [number, number];
  /** The last sample at which the floor rose. */
  readonly lastRiseNs: number;
}

/**
 * retainedGrowth on the program's own clock (memlens-pauses.ts): memlens's pauses (its censuses) are cut
 * out of the time axis, so they count neither as the program stalling nor in its pace; the times returned
 * are real times again, and `pausedNs` says how much of [fromNs, toNs] was memlens's.
 */
export function retainedGrowthOn(
  clock: ProgramClock,
  timeNs: ArrayLike<number>,
  bytes: ArrayLike<number>,
  untilNs = Infinity,
  count?: ArrayLike<number>,
): (RetainedGrowth & { readonly pausedNs: number }) | undefined {
  const t = Float64Array.from(timeNs, (x) => clock.toProgram(x));
  const pace = clock.toPaced === undefined ? undefined : Float64Array.from(timeNs, (x) => clock.toPaced!(x));
  const g = retainedGrowth(t, bytes, clock.toProgram(untilNs), pace, count);
  if (g === undefined) return undefined;
  // A sample's own real time where the moment is a sample's, not the clock's way back to it (exact only
  // where the clock is piecewise whole: memlens's own time makes it piecewise linear, own-time.ts).
  const real = (p: number): number => {
    const k = t.indexOf(p);
    return k >= 0 ? timeNs[k]! : clock.toReal(p);
  };
  const fromNs = real(g.fromNs);
  const toNs = real(g.toNs);
  return { ...g, fromNs, toNs, lastRiseNs: real(g.lastRiseNs), pausedNs: clock.pausedBetween(fromNs, toNs) };
}

/** A rise smaller than this share of the whole is noise (a few allocations that come and go). */
export const RISE_MIN_SHARE = 0.005;

/**
 * How much faster one part of a run may go than another between an idle and a busy machine: a busy machine
 * stretches the parts of a program that need the CPU and leaves its sleeps as they are, so parts that
 * differ in CPU stretch differently. The corpus's callback_registry (300 requests that each sleep 2 ms, then
 * 300 that also register a listener) under a 5% CPU quota: its first part took 7% longer than idle, its
 * second 62% longer, 1.5 times as much; in 5 runs of 30, on a machine busy besides, 2.2 to 3 times as much
 * (docs/reports.md, "Which finding, on a busy machine"). Where moving the split of a climb by that much
 * changes a finding's kind, the capture cannot tell the two apart.
 */
export const PACE_RATIO = 3;
/**
 * Where the middle of [fromNs, toNs] would have been had the part before it gone PACE_RATIO times slower,
 * then faster, than the part after it: at x with PACE_RATIO × x = 1 − x, then x = PACE_RATIO × (1 − x).
 */
export const PACE_SPLITS: readonly [number, number] = [1 / (1 + PACE_RATIO), PACE_RATIO / (1 + PACE_RATIO)];

/**
 * The retained growth of a series of samples (times ascending, the last one the end of the capture).
 * Tracking starts at 0 with nothing live, so a sample (0, 0) comes first. With `untilNs`, the shape is
 * measured up to the last sample at or before it (the moment the process reached its memory limit: what
 * follows is the stall before the OOM kill), while the floor still looks at every later sample (what was
 * freed afterwards was not kept). `count`: the live count at each sample (for largestRiseSizeRatio). Undefined
 * when the series never holds anything.
 */
export function retainedGrowth(timeNs: ArrayLike<number>, bytes: ArrayLike<number>, untilNs = Infinity, paceNs: ArrayLike<number> = timeNs, count?: ArrayLike<number>): RetainedGrowth | undefined {
  const n = timeNs.length;
  if (n === 0) return undefined;
  const t = new Float64Array(n + 1);
  // The samples' times on which their pace is judged (pacedRises): the snapshots' own pace.
  const pt = new Float64Array(n + 1);
  for (let k = 0; k < n; k++) {
    t[k + 1] = Math.max(timeNs[k]!, t[k]!);
    pt[k + 1] = Math.max(paceNs[k]!, pt[k]!);
  }
  let first = -1;
  for (let k = 1; k <= n; k++) {
    if (bytes[k - 1] !== 0) {
      first = k;
      break;
    }
  }
  if (first < 0) return undefined;
  const start = first - 1;
  const floor = floorOf(bytes, n);
  // The last sample measured: at or before untilNs, and after the start.
  let end = n;
  while (end > start + 1 && t[end]! > untilNs) end--;
  const gained = floor[end]! - floor[start]!;
  const fromNs = t[start]!;
  const toNs = t[end]!;
  if (gained <= 0) {
    return {
      fromNs,
      toNs,
      bytes: 0,
      rises: 0,
      pacedRises: 0,
      samples: end - start,
      largestRiseShare: 0,
      largestRiseTimeShare: 0,
      largestRiseSizeRatio: undefined,
      firstHalfShare: 0,
      secondHalfShare: 0,
      firstShareAtPace: [0, 0],
      lastRiseNs: fromNs,
    };
  }
  const usual = medianInterval(pt);
  let rises = 0;
  let pacedRises = 0;
  let largest = 0;
  let largestNs = 0;
  let largestAt = -1;
  let lastRiseNs = fromNs;
  // What the floor rose since the last rise counted: a rise is counted when it reaches RISE_MIN_SHARE, over one
  // interval or several. Per interval alone, the count depended on how often the samples came: a line climbing at
  // 0.44 % of its growth per 10 ms snapshot showed no rise where the snapshots came on time and three where a busy
  // machine made a few of them late, and its climb read as ending early (corpus web_render_cache, 2026-12-06).
  let pending = 0;
  for (let k = start + 1; k <= end; k++) {
    const rise = floor[k]! - floor[k - 1]!;
    pending += rise;
    if (rise > 0 && pending >= RISE_MIN_SHARE * gained) {
      rises++;
      pacedRises += usual > 0 ? Math.max(1, Math.floor((pt[k]! - pt[k - 1]!) / usual)) : 1;
      lastRiseNs = t[k]!;
      pending = 0;
    }
    if (rise > largest) {
      largest = rise;
      largestNs = t[k]! - t[k - 1]!;
      largestAt = k;
    }
  }
  // The floor at a moment of [fromNs, toNs]. The interval that holds it: its rise came at some moment
  // within it, unknown; it is split at the moment in proportion to time. Taking all of it as after the
  // mid-point (the sample's value at its end) moved up to a whole interval of the climb into its second
  // half: with a few samples to a climb (a run of 50 ms at 10 ms snapshots), a climb that started slowly
  // read as mostly late.
  const floorAt = (at: number): number => {
    let v = floor[start]!;
    for (let k = start + 1; k <= end; k++) {
      if (t[k]! <= at) v = floor[k]!;
      else {
        if (t[k - 1]! < at) v = floor[k - 1]! + ((floor[k]! - floor[k - 1]!) * (at - t[k - 1]!)) / (t[k]! - t[k - 1]!);
        break;
      }
    }
    return v;
  };
  const shareBefore = (split: number): number => (floorAt(fromNs + split * (toNs - fromNs)) - floor[start]!) / gained;
  const atMid = floorAt((fromNs + toNs) / 2);
  return {
    fromNs,
    toNs,
    bytes: gained,
    rises,
    pacedRises,
    samples: end - start,
    largestRiseShare: largest / gained,
    largestRiseTimeShare: toNs > fromNs ? largestNs / (toNs - fromNs) : 1,
    largestRiseSizeRatio: count === undefined ? undefined : sizeRatio(count, start, end, largestAt, largest, gained - largest),
    firstHalfShare: (atMid - floor[start]!) / gained,
    secondHalfShare: (floor[end]! - atMid) / gained,
    firstShareAtPace: [shareBefore(PACE_SPLITS[0]), shareBefore(PACE_SPLITS[1])],
    lastRiseNs,
  };
}

/**
 * RetainedGrowth.largestRiseSizeRatio: `count` as the series' samples (index k - 1 for the floor's k), the
 * largest rise at `at`, its bytes and the other rises' bytes.
 */
function sizeRatio(count: ArrayLike<number>, start: number, end: number, at: number, stepBytes: number, restBytes: number): number | undefined {
  if (at < 1 || count.length === 0) return undefined;
  const floor = floorOf(count, count.length);
  const step = floor[at]! - floor[at - 1]!;
  const rest = floor[end]! - floor[start]! - step;
  if (step <= 0 || rest <= 0 || restBytes <= 0) return undefined;
  return stepBytes / step / (restBytes / rest);
}

/**
 * The floor of a series of `n` samples with tracking's start (nothing live) before them: at k, the least of the
 * values from k on, index 0 being the start and index k the k-th sample (`values[k - 1]`). What a line still
 * held at every later moment, so what it kept by then.
 */
function floorOf(values: ArrayLike<number>, n: number): Float64Array {
  const floor = new Float64Array(n + 1);
  floor[n] = values[n - 1]!;
  for (let k = n - 1; k >= 0; k--) floor[k] = Math.min(k === 0 ? 0 : values[k - 1]!, floor[k + 1]!);
  return floor;
}

/**
 * The median of the intervals between samples (t[0] is the start of tracking, not a sample): the series'
 * usual pace, which a few late snapshots do not move. 0 when there are fewer than two samples.
 */
function medianInterval(t: Float64Array): number {
  const d: number[] = [];
  for (let k = 2; k < t.length; k++) d.push(t[k]! - t[k - 1]!);
  if (d.length === 0) return 0;
  d.sort((a, b) => a - b);
  return d[(d.length - 1) >> 1]!;
}
