// Memory that accumulates: a line of the program whose live memory rose again and again over the run and
// was never given back, up to the end (an OOM kill, the end of an attach, the exit). The commonest cause
// of an OOM kill: a list, dict or cache that keeps everything it is given. The advice: free what is no
// longer needed (del and gc.collect()), bound what is kept, stream data in chunks.
//
// The evidence is the line's live memory sampled over the run (live-series.ts), and its floor
// (retained-growth.ts): what it kept must have risen at several moments, in both halves of its climb (from
// its start to its last rise), with no single step holding most of it (a step: a rise of big allocations,
// short for its share; a burst of what the line kept all along is not one), and the climb must not be followed
// by a hold longer than it. So a plateau (a load, then a long hold) and a batch that frees each round (a
// sawtooth: its floor rises only in the last round) never fire, while a leak that stopped only because the
// program went on to other work before it exited (a request phase, then a report) does. Works on event and
// aggregated captures alike (their checkpoints are the samples), and on attach captures (from the attach).

import { Allocator, OPTION_PYTHON_ALLOCATORS } from '../../capture/format.js';
import type { FrameId, SiteId } from '../../model/ids.js';
import type { CaptureModel } from '../../model/model.js';
import { type HeldAs, heldAs } from '../capture-census.js';
import { endingOf } from '../ending.js';
import { madeByImport } from '../own-code.js';
import { groupSeries, type GroupSeries } from '../live-series.js';
import { limitReachedNs, memoryLimitOf, usageAtEnd } from '../memory-limit.js';
import { collectionKept, PACE_BOTH_TEXT } from './collection-evidence.js';
import { type DetectorInput, EVIDENCE_ROWS, type FindingCommon, type LineCandidates } from './finding.js';
import { groupByOwnLine, type LineGroup } from './line-groups.js';
import type { ProgramClock } from '../memlens-pauses.js';
import { programClockOf } from '../own-time.js';
import { retainedGrowthOn, type RetainedGrowth } from './retained-growth.js';

/**
 * The floor rose at this many samples at least: one rise is a step (a load), two may be a load and a
 * resize; three rises are a pattern. Counted at the series' usual pace (RetainedGrowth.pacedRises): a
 * snapshot that came late stands for the ones that did not come. examples/leaky_service.py's 8 threads
 * kept 20 MB from 6 to 62 ms; the agent's service thread, not scheduled on a busy machine, took no
 * snapshot from 6 to 51 ms (10 ms is its pace), so its floor rose at two samples only (300 entries, then
 * 101) and the leak went unreported (1 run in about 60 at load 2–4). That interval stands for four.
 * Agents since round thirteen fill such gaps (agent/src/snapshot.c: a thread that allocates takes a snapshot
 * when the last is over 20 ms old, twice the usual pace), so that the series of an event capture keeps
 * its pace; the pacing stays for what they do not fill: captures of earlier agents, aggregated captures
 * (their samples are the service thread's checkpoints), and threads that allocate less than a step (1 MiB)
 * while the service thread waits. The same example, when it ran fast (load 2 to 5, 2026-12-05: 8 of 120
 * runs), kept its 20 MB within two on-time 10 ms intervals, a series like that of one load that straddled a
 * snapshot, which nothing in the samples tells apart; so in a session's first second the agent takes them at
 * least every fiftieth of its age (2 ms at first: snapshot.c stale_for), and that went to 0 of 100 runs.
 */
export const ACCUMULATION_MIN_RISES = 3;
/**
 * …of which this many seen at least: a load that fell in a single late interval is still one step.
 */
export const ACCUMULATION_MIN_SEEN_RISES = 2;
/**
 * No single rise holds more than this share of what was kept, at more than ACCUMULATION_STEP_RATE times the
 * climb's mean rate: else it is one step (a load), not a climb. The rate matters because snapshots are not
 * evenly spaced on a busy machine: one that came 35 ms late (10 ms is the norm) put 72% of a 77 ms climb
 * of examples/leaky_service.py in one interval, which spanned 44% of the climb; a load puts most of it in
 * an interval that spans little.
 */
export const ACCUMULATION_MAX_STEP_SHARE = 0.5;
export const ACCUMULATION_STEP_RATE = 2;
/**
 * …and whose allocations were on average more than this many times as big as those the other rises kept
 * (RetainedGrowth.largestRiseSizeRatio): a load is a big thing, or a few, amid small ones (the unit
 * tests' 12 MiB amid 1 MiB steps: 6.5 times); a burst of the climb keeps more of what it keeps all along.
 * examples/leaky_service.py's 8 threads, let go at once on a busy machine, kept 212 of its 401 entries of
 * 50 KB (53% of 20 MB) in one 10 ms interval of a 62 ms climb: a ratio of 1.0 (3 runs of 55 beside three
 * busy loops, load 9-11, 2026-12-05, all 1.0; 0 of 60 with this rule). Where the counts tell nothing (a buffer grown by realloc keeps one allocation), the
 * share and the rate decide alone, as before.
 */
export const ACCUMULATION_STEP_SIZE_RATIO = 2;
/**
 * Of what was kept, each half of the climb (from the line's start to its last rise) gained at least this
 * share: it climbed from early on (not a sawtooth's last round, nor one load with a trickle after it) and
 * went on climbing (not a load that came mostly at once). That it went on until late in the run is
 * ACCUMULATION_MAX_HOLD_RATIO's to say.
 */
export const ACCUMULATION_FIRST_HALF_SHARE = 0.1;
export const ACCUMULATION_SECOND_HALF_SHARE = 0.1;
/**
 * After its last rise the line held what it kept, unchanged, for at most this many times as long as it
 * climbed: a plateau holds its load for long (the corpus's plateau.py for three times its load or more, a
 * service for hours); a leak that ends only because the program moved on to other work before it exited
 * held for about as long as it climbed (examples/leaky_service.py on CPython 3.9: 0.17 to 1.23 times over
 * 85 runs, as its threads and the work after them took turns). Measuring the halves on the whole run
 * instead made that example's finding depend on how long its last phase took (missing in 17 of those 85).
 * Where the other work takes much longer than the leak did (the same example on a free-threaded 3.13,
 * which traces every small object: 2 to 5 times) the shape is a plateau's, and no time series tells the
 * two apart.
 */
export const ACCUMULATION_MAX_HOLD_RATIO = 2;
/**
 * The same, when the process ran on after the capture (an attach's detach or --duration, tracking the
 * program stopped): there the end is a cut, not the program's last work, and what an operator needs to
 * know is whether it is still climbing. A service whose cache warmed up for 10 s and then held for 15 s
 * is at a plateau. Half: for an even climb, as asking a quarter of it in the second half of the whole
 * time did before the climb was measured on its own.
 */
export const ACCUMULATION_MAX_HOLD_RATIO_WENT_ON = 0.5;

/** pymalloc's arena: 1 MiB from CPython 3.10, 256 KiB before. */
const ARENA_SIZES = new Set([1 << 20, 256 << 10]);

export const ACCUMULATION_TEXT = {
  title: 'Memory accumulated steadily and was never freed',
  advice:
    'Find what keeps these objects (a global list or dict, a cache, a class attribute, a closure, a registry of callbacks) and stop it keeping them: delete what is no longer needed (del obj; gc.collect() if they are in reference cycles), bound what must be kept (a maximum size, functools.lru_cache(maxsize=N), evict old entries), or process the data in chunks and stream results out instead of holding them all.',
} as const;

export interface AccumulationItem {
  /** The program's own line, the library or native frame that allocated (when another), a stack. */
  readonly line: FrameId | -1;
  readonly leaf: FrameId | undefined;
  readonly frames: readonly FrameId[];
  /** Live at the end, and allocations made in all. */
  readonly bytes: number;
  readonly count: number;
  readonly made: number;
  /** pausedNs: how much of [fromNs, toNs] was memlens's (its pauses, its own recording), left out of the rate. */
  readonly growth: RetainedGrowth & { readonly pausedNs: number };
  /** growth.bytes over [fromNs, toNs] less growth.pausedNs, bytes per second. */
  readonly bytesPerSecond: number;
  /** Of the memory limit, when there is one. */
  readonly shareOfLimit: number | undefined;
  /**
   * How long after the last snapshot, at this rate, the usage the limit counts would reach it: 0 when it
   * did (or the OOM killer ended the process); undefined without a limit.
   */
  readonly limitInNs: number | undefined;
  /** The census's type that holds about as much (with its count and bytes), when there is a census. */
  readonly heldAs: HeldAs | undefined;
  /** The memory is pymalloc's arenas (Python allocators not traced): small objects, lines approximate. */
  readonly arenas: boolean;
  /**
   * Its objects are also the entries of a collection that only grows (collection-evidence.ts), and its climb
   * would not read as steady had the part of the run before the middle of its climb gone PACE_RATIO times
   * slower than the rest (retained-growth.ts): which of the two findings names it depends on the machine's
   * speed.
   */
  readonly alsoCollection: boolean;
}

export interface AccumulationFinding extends FindingCommon {
  readonly kind: 'accumulation';
  readonly items: readonly AccumulationItem[];
  readonly limit: number | undefined;
  /** The usage the limit counts, at the last snapshot. */
  readonly usage: { readonly bytes: number; readonly timeNs: number; readonly what: 'cgroup' | 'rss' } | undefined;
  readonly oomKilled: boolean;
  /** When usage reached the limit for good (memory-limit.ts limitReachedNs): the climbs are measured to then. */
  readonly limitReachedNs: number | undefined;
  /** The census the items' types come from (when, why), if the capture has one. */
  readonly census: { readonly timeNs: number; readonly label: string } | undefined;
}

/**
 * Whether a series climbs as an accumulation does (the thresholds above): `g` is its growth over the whole
 * time measured, `climb` the same series measured up to g's last rise (retainedGrowthOn with that `untilNs`),
 * whose halves tell the climb's shape; both on the program's clock (`pausedNs`: memlens's pauses).
 */
export function isSteadyClimb(
  g: (RetainedGrowth & { readonly pausedNs: number }) | undefined,
  climb: (RetainedGrowth & { readonly pausedNs: number }) | undefined,
  minBytes: number,
  clock: ProgramClock,
  maxHoldRatio = ACCUMULATION_MAX_HOLD_RATIO,
): g is RetainedGrowth & { readonly pausedNs: number } {
  if (g === undefined || climb === undefined || g.bytes < minBytes || g.toNs <= g.fromNs) return false;
  const climbNs = clock.toProgram(g.lastRiseNs) - clock.toProgram(g.fromNs);
  const holdNs = clock.toProgram(g.toNs) - clock.toProgram(g.lastRiseNs);
  return (
    g.pacedRises >= ACCUMULATION_MIN_RISES &&
    g.rises >= ACCUMULATION_MIN_SEEN_RISES &&
    !isStep(climb) &&
    holdNs <= maxHoldRatio * climbNs &&
    climb.firstHalfShare >= ACCUMULATION_FIRST_HALF_SHARE &&
    climb.secondHalfShare >= ACCUMULATION_SECOND_HALF_SHARE
  );
}

/** The climb's largest rise was one step (a load), not part of the climb: see ACCUMULATION_MAX_STEP_SHARE. */
function isStep(climb: RetainedGrowth): boolean {
  return (
    climb.largestRiseShare > ACCUMULATION_MAX_STEP_SHARE &&
    climb.largestRiseShare > ACCUMULATION_STEP_RATE * climb.largestRiseTimeShare &&
    !(climb.largestRiseSizeRatio !== undefined && climb.largestRiseSizeRatio <= ACCUMULATION_STEP_SIZE_RATIO)
  );
}

/**
 * `climb` with its halves split where they would be had the part of the run before the split gone PACE_RATIO
 * times faster (`pace` 1) or slower (`pace` 0) than the part after it (RetainedGrowth.firstShareAtPace).
 */
export function climbAtPace<T extends RetainedGrowth>(climb: T | undefined, pace: 0 | 1): T | undefined {
  if (climb === undefined) return undefined;
  const first = climb.firstShareAtPace[pace];
  return { ...climb, firstHalfShare: first, secondHalfShare: 1 - first };
}

/** A series' growth over the time measured (up to `untilNs`) and its climb (up to its last rise), as isSteadyClimb takes them. */
export function steadyClimbOf(
  clock: ProgramClock,
  s: GroupSeries,
  untilNs: number,
): { growth: (RetainedGrowth & { readonly pausedNs: number }) | undefined; climb: (RetainedGrowth & { readonly pausedNs: number }) | undefined } {
  const growth = retainedGrowthOn(clock, s.timeNs, s.bytes, untilNs, s.count);
  const climb = growth === undefined ? undefined : retainedGrowthOn(clock, s.timeNs, s.bytes, growth.lastRiseNs, s.count);
  return { growth, climb };
}

/** Every candidate line (live at the end at least minBytes, not made by importing a library) and its series. */
export function lineCandidates(model: CaptureModel, facts: DetectorInput['facts'], filter: DetectorInput['filter'], minBytes: number): LineCandidates {
  if (facts === undefined) return { groups: [], series: [] };
  const live = model.sites.columns.liveBytes.array;
  // What importing a library made is the library's (tables, buffers), not a leak of the program.
  const groups = groupByOwnLine(model, filter, (s) => live[s]! > 0 && !madeByImport(model, s)).filter((g) => g.liveBytes >= minBytes);
  // Site → 1 + its group (0: none). Not filled with -1: a fill writes every page of this array of every site
  // (10 MiB on call_sites), where a fresh array's zeros are pages never touched but those of the groups' sites.
  const index = new Int32Array(model.sites.size);
  groups.forEach((g, i) => {
    for (const s of g.sites) index[s] = i + 1;
  });
  // A group's series depends on its own sites only (groupSeries), so leaving out a claimed group later changes no other.
  return { groups, series: groupSeries(facts.series, groups.length, (s: SiteId) => (s < index.length ? index[s]! - 1 : -1)) };
}

/** The candidate lines (input.lineCandidates()) that no earlier detector claimed, and their series. */
export function candidateLines(input: DetectorInput): { groups: LineGroup[]; series: GroupSeries[] } {
  const all = input.lineCandidates();
  const groups: LineGroup[] = [];
  const series: GroupSeries[] = [];
  all.groups.forEach((g, i) => {
    if (input.claimed.has(g.line)) return;
    groups.push(g);
    series.push(all.series[i]!);
  });
  return { groups, series };
}

export function accumulation(input: DetectorInput): AccumulationFinding[] {
  const { model } = input;
  const { groups, series } = candidateLines(input);
  const limit = memoryLimitOf(model);
  const usage = usageAtEnd(model);
  const oomKilled = model.exit?.oomKill === 1;
  const census = input.census();
  // At the limit the program stalls until the OOM killer ends it: its pace is measured up to then.
  const reached = limitReachedNs(model);
  const until = reached ?? Infinity;
  // memlens's own pauses (its censuses), the process held still and memlens's own work on the program's
  // threads (recording its allocations) are not the program's: measured on the program's clock.
  const clock = programClockOf(model);
  const maxHold = endingOf(model).wentOn ? ACCUMULATION_MAX_HOLD_RATIO_WENT_ON : ACCUMULATION_MAX_HOLD_RATIO;
  const items: AccumulationItem[] = [];
  groups.forEach((g, i) => {
    const s = series[i]!;
    const { growth, climb } = steadyClimbOf(clock, s, until);
    if (!isSteadyClimb(growth, climb, input.minBytes, clock, maxHold)) return;
    const rate = growth.bytes / ((growth.toNs - growth.fromNs - growth.pausedNs) / 1e9);
    let limitInNs: number | undefined;
    if (limit !== undefined) {
      const left = oomKilled || usage === undefined ? 0 : Math.max(0, limit - usage.bytes);
      limitInNs = left === 0 ? 0 : (left / rate) * 1e9;
    }
    items.push({
      line: g.line,
      leaf: g.leaf,
      frames: g.frames,
      bytes: g.liveBytes,
      count: g.liveCount,
      made: g.madeCount,
      growth,
      bytesPerSecond: rate,
      shareOfLimit: limit === undefined ? undefined : g.liveBytes / limit,
      limitInNs,
      heldAs: census === undefined ? undefined : heldAs(census.census, valueAt(s, census.timeNs)),
      arenas: isArenas(model, g),
      alsoCollection: !isSteadyClimb(growth, climbAtPace(climb, 0), input.minBytes, clock, maxHold) && collectionKept(clock, s.timeNs, s.count, g.liveCount, until) !== undefined,
    });
  });
  if (items.length === 0) return [];
  items.sort((a, b) => b.growth.bytes - a.growth.bytes);
  const shown = items.slice(0, EVIDENCE_ROWS);
  return [
    {
      kind: 'accumulation',
      ...(items.every((x) => x.alsoCollection) ? PACE_BOTH_TEXT : ACCUMULATION_TEXT),
      bytes: items.reduce((a, x) => a + x.growth.bytes, 0),
      lines: items.map((x) => x.line),
      items: shown,
      limit,
      usage,
      oomKilled,
      limitReachedNs: reached,
      census: census === undefined ? undefined : { timeNs: census.timeNs, label: census.label },
    },
  ];
}

/** The series' value at a moment: at the end of the first tick that ends at or after it. */
export function valueAt(s: GroupSeries, timeNs: number): number {
  for (let k = 0; k < s.timeNs.length; k++) if (s.timeNs[k]! >= timeNs) return s.bytes[k]!;
  return s.bytes.length > 0 ? s.bytes[s.bytes.length - 1]! : 0;
}

/**
 * The line's memory is pymalloc's arenas: Python's allocators were not traced, and every allocation of it
 * is an mmap of an arena's size. Small objects then show as the arenas that hold them, charged to whichever
 * line needed a new arena.
 */
export function isArenas(model: CaptureModel, g: LineGroup): boolean {
  if ((model.header.options & OPTION_PYTHON_ALLOCATORS) !== 0 || g.madeCount === 0) return false;
  for (const s of g.sites) if (model.sites.allocator(s) !== (Allocator.Mmap as number)) return false;
  return ARENA_SIZES.has(g.madeBytes / g.madeCount);
}
