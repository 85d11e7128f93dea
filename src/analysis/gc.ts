// The cyclic garbage collector as the capture saw it: collections per generation (GC records), what they
// freed (gc-frees.ts: frees inside each collection), and the collector's settings over the run (GC_STATE:
// disabled, frozen objects, thresholds). Reference counting frees everything that is not in a cycle, so
// the bytes freed by collections are the memory that cycles held until the collector ran.

import { DEFAULT_FRAME_FILTER, type FrameFilter } from '../model/frames.js';
import type { CaptureModel } from '../model/model.js';
import { memlensPauses } from './memlens-pauses.js';
import { beforeProgramEnd, programEndOf } from './program-end.js';
import type { AllocationSet, SiteAmount } from './allocation-set.js';
import type { GcFreesResult } from './gc-frees.js';
import { type StackAmount, stacksOf } from './stacks.js';

export interface GcGeneration {
  readonly generation: number;
  readonly collections: number;
  /** Objects the collections found unreachable and freed. */
  readonly collected: number;
  /** Objects found unreachable but not freeable (they went to gc.garbage). */
  readonly uncollectable: number;
  readonly totalPauseNs: number;
  readonly maxPauseNs: number;
  /** Tracked bytes and allocations freed inside this generation's collections; undefined: unknown. */
  readonly bytesFreed: number | undefined;
  readonly allocationsFreed: number | undefined;
}

export interface GcPause {
  readonly generation: number;
  readonly pauseNs: number;
  /** When the collection ended (ns since tracking started). */
  readonly timeNs: number;
  readonly collected: number;
  readonly bytesFreed: number | undefined;
}

export interface GcSpan {
  readonly fromNs: number;
  /** undefined: until the end. */
  readonly toNs: number | undefined;
}

export interface GcSettings {
  /** The collector's state as the capture ends; undefined without any GC_STATE record. */
  readonly enabledAtEnd: boolean | undefined;
  /** When the program disabled it (gc.disable(), or a C extension's PyGC_Disable()). */
  readonly disabled: readonly GcSpan[];
  /**
   * When memlens's own census disabled it (a window that lies inside a census's pause, from its CENSUS
   * record): memlens's, never the program's. Agents since the path search do not record these at all.
   */
  readonly disabledByMemlens: readonly GcSpan[];
  /** Objects moved to the permanent generation by gc.freeze(), at the end (the most seen, and when). */
  readonly frozenAtEnd: number;
  readonly maxFrozen: number;
  readonly thresholds: readonly [number, number, number] | undefined;
}

export interface GcReport {
  readonly collections: number;
  readonly collected: number;
  readonly uncollectable: number;
  readonly totalPauseNs: number;
  /** Generations 0, 1 and 2 always (more if a record names one). */
  readonly generations: readonly GcGeneration[];
  readonly longest: GcPause | undefined;
  /** Tracked bytes and allocations freed by collections; undefined: the capture cannot tell (why below). */
  readonly bytesFreed: number | undefined;
  readonly allocationsFreed: number | undefined;
  /** Why bytesFreed is unknown or only partly known; empty when it is exact. */
  readonly freedCaveats: readonly string[];
  /** Stacks whose allocations collections freed, most bytes first. */
  readonly freedByStack: readonly StackAmount[];
  /** Per collection (the order of model.gcs), the tracked bytes it freed; undefined: unknown. */
  readonly perCollectionBytes: readonly (number | undefined)[];
  readonly settings: GcSettings;
}

export function gcReport(model: CaptureModel, frees: GcFreesResult | undefined, filter: FrameFilter = DEFAULT_FRAME_FILTER): GcReport {
  // The program's collections: the one memlens runs after the program's end (program-end.ts) is not one.
  const end = programEndOf(model);
  const gcs = end === undefined ? model.gcs : model.gcs.filter((r) => beforeProgramEnd(r, end));
  // Per GC record (gcs order), bytes freed; the observer saw the same records in the same order.
  const freedOf = (i: number): [number, number] | undefined => {
    if (frees === undefined || model.aggregated) return undefined;
    const b = frees.bytes[i];
    const n = frees.count[i];
    if (b === undefined || n === undefined || Number.isNaN(b) || frees.seq[i] !== gcs[i]?.seq) return undefined;
    return [b, n];
  };
  const gens: { collections: number; collected: number; uncollectable: number; total: number; max: number; bytes: number; count: number; known: boolean }[] = [];
  const gen = (g: number) => {
    while (gens.length <= g) gens.push({ collections: 0, collected: 0, uncollectable: 0, total: 0, max: 0, bytes: 0, count: 0, known: true });
    return gens[g] as (typeof gens)[number];
  };
  gen(2);
  let longest: GcPause | undefined;
  let bytesFreed = 0;
  let allocationsFreed = 0;
  let unknownRecords = 0;
  const perCollectionBytes: (number | undefined)[] = [];
  gcs.forEach((r, i) => {
    const g = gen(Math.min(r.generation, 15));
    g.collections++;
    g.collected += r.collected;
    g.uncollectable += r.uncollectable;
    g.total += r.durationNs;
    if (r.durationNs > g.max) g.max = r.durationNs;
    const f = freedOf(i);
    perCollectionBytes.push(f?.[0]);
    if (f === undefined) {
      g.known = false;
      unknownRecords++;
    } else {
      g.bytes += f[0];
      g.count += f[1];
      bytesFreed += f[0];
      allocationsFreed += f[1];
    }
    if (longest === undefined || r.durationNs > longest.pauseNs) {
      longest = { generation: r.generation, pauseNs: r.durationNs, timeNs: r.timeNs, collected: r.collected, bytesFreed: f?.[0] };
    }
  });

  const caveats: string[] = [];
  if (gcs.length > 0) {
    if (model.aggregated) caveats.push('an aggregated capture keeps no frees, so the memory the collector freed is unknown');
    else if (frees === undefined) caveats.push('the memory the collector freed was not computed');
    else if (unknownRecords > 0) caveats.push(`${unknownRecords} collection${unknownRecords === 1 ? '' : 's'} came from a capture without the start of each collection: what they freed is unknown`);
    if (frees !== undefined && frees.incomplete > 0)
      caveats.push(`${frees.incomplete} collection${frees.incomplete === 1 ? '' : 's'} freed more allocations than memlens keeps track of at once: their figures are lower bounds`);
  }
  const known = gcs.length > 0 && unknownRecords < gcs.length;

  let freedByStack: StackAmount[] = [];
  if (frees !== undefined && !model.aggregated && frees.bySite.size > 0) {
    const sites: SiteAmount[] = [];
    let tb = 0;
    let tc = 0;
    for (const [site, f] of frees.bySite) {
      sites.push({ site, bytes: f.bytes, count: f.count });
      tb += f.bytes;
      tc += f.count;
    }
    const set: AllocationSet = { kind: 'total', totalBytes: tb, totalCount: tc, sites };
    freedByStack = stacksOf(model, set, { filter });
  }

  return {
    collections: gcs.length,
    collected: gens.reduce((a, g) => a + g.collected, 0),
    uncollectable: gens.reduce((a, g) => a + g.uncollectable, 0),
    totalPauseNs: gens.reduce((a, g) => a + g.total, 0),
    generations: gens.map((g, i) => ({
      generation: i,
      collections: g.collections,
      collected: g.collected,
      uncollectable: g.uncollectable,
      totalPauseNs: g.total,
      maxPauseNs: g.max,
      bytesFreed: g.collections === 0 ? 0 : g.known ? g.bytes : undefined,
      allocationsFreed: g.collections === 0 ? 0 : g.known ? g.count : undefined,
    })),
    longest,
    bytesFreed: known ? bytesFreed : gcs.length === 0 ? 0 : undefined,
    allocationsFreed: known ? allocationsFreed : gcs.length === 0 ? 0 : undefined,
    freedCaveats: caveats,
    freedByStack,
    perCollectionBytes,
    settings: gcSettings(model),
  };
}

function gcSettings(model: CaptureModel): GcSettings {
  const disabled: GcSpan[] = [];
  let enabled: boolean | undefined;
  let frozen = 0;
  let maxFrozen = 0;
  let thresholds: readonly [number, number, number] | undefined;
  let since: number | undefined;
  const states = [...model.gcStates].sort((a, b) => a.timeNs - b.timeNs);
  for (const s of states) {
    if (!s.enabled && enabled !== false) since = s.timeNs;
    if (s.enabled && enabled === false && since !== undefined) {
      disabled.push({ fromNs: since, toNs: s.timeNs });
      since = undefined;
    }
    enabled = s.enabled;
    frozen = s.frozenObjects;
    if (frozen > maxFrozen) maxFrozen = frozen;
    thresholds = s.thresholds;
  }
  if (enabled === false && since !== undefined) disabled.push({ fromNs: since, toNs: undefined });
  const pauses = censusPauses(model);
  const ours = (d: GcSpan): boolean => d.toNs !== undefined && pauses.some((p) => d.fromNs >= p.fromNs && d.toNs! <= p.toNs);
  return { enabledAtEnd: enabled, disabled: disabled.filter((d) => !ours(d)), disabledByMemlens: disabled.filter(ours), frozenAtEnd: frozen, maxFrozen, thresholds };
}

/**
 * Slack before a census's pause (ns), for what its pause_ms does not cover: loading the census module and
 * writing the JSON (the CENSUS record's time is taken after it), plus a tenth of the pause.
 */
export const CENSUS_WINDOW_SLACK_NS = 250_000_000;

/** Where a disabled window counts as a census's: its pause, widened by the slack before it. */
export function censusPauses(model: CaptureModel): { readonly fromNs: number; readonly toNs: number }[] {
  return memlensPauses(model).map((p) => ({ fromNs: p.fromNs - (p.toNs - p.fromNs) * 0.1 - CENSUS_WINDOW_SLACK_NS, toNs: p.toNs }));
}
