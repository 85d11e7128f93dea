// Large objects kept alive long: after the function that made them returned, or made again and again at
// one place and never freed. The advice: free large objects promptly (drop the last reference as soon as
// they are no longer needed), since Python frees an object only when nothing refers to it any more.
//
// "Returned" is proven, never guessed (large-lifetimes.ts): while a frame runs every allocation of its
// thread has it on its stack, so the first allocation of the thread outside it shows it had returned.
// Without that proof (the thread went on making only objects the agent does not see), several objects of
// a MiB or more made at one stack and all alive at the end show that something keeps them.

import type { FrameFilter } from '../../model/frames.js';
import { type FrameId, NO_PY_NODE, type PyNodeId1, type SiteId } from '../../model/ids.js';
import type { CaptureModel } from '../../model/model.js';
import { LONG_LIVED_MIN_NS } from '../large-lifetimes.js';
import { type DetectorInput, EVIDENCE_ROWS, type FindingCommon } from './finding.js';
import { ownLineIndex } from './line-groups.js';
import { madeByImport } from '../own-code.js';

/**
 * A large allocation still live at the end counts as kept when it outlived the function that made it by
 * at least LONG_LIVED_MIN_NS (half a second: less may be a result on its way to its consumer) and by this
 * share of the run (a tenth: it stayed for a noticeable part of the run).
 */
export const KEPT_AT_END_SHARE = 0.1;
/** A large allocation freed before the end counts as kept when it lived for most of the run (half). */
export const KEPT_MOST_OF_RUN_SHARE = 0.5;
/**
 * Without proof that the maker returned (its thread made no allocation the agent saw outside it), large
 * allocations still count as kept when one stack made at least this many that are all live at the end,
 * the first of them made LONG_LIVED_MIN_NS and KEPT_AT_END_SHARE of the run before it: objects of that size
 * made again and again and never freed are kept in something (a list, a dict), whether the function that
 * made them returned or loops. One or two may be a program's working buffers: they do not count.
 */
export const KEPT_REPEATED_MIN = 3;

export const LARGE_OBJECTS_KEPT_TEXT = {
  title: 'Large objects kept alive long',
  advice:
    'Free large objects promptly: drop the last reference as soon as one is no longer needed (del obj, and gc.collect() if it sits in a reference cycle; or keep it in a narrower scope, such as a function that returns only what is needed), and process a large data set in chunks rather than holding all of it.',
} as const;

export interface KeptItem {
  /** The stack of the allocations (frame ids, root first). */
  readonly frames: readonly FrameId[];
  /** The function that made them (a frame on the stack). */
  readonly maker: FrameId;
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
  /**
   * What shows they were kept: `returned`, the maker returned (makerReturnedNs, outlivedNs); `repeated`, the
   * stack made KEPT_REPEATED_MIN or more and all are live at the end (makerReturnedNs and outlivedNs are
   * then the first's allocation time and how long it lived).
   */
  readonly proof: 'returned' | 'repeated';
}

export interface LargeObjectsKeptFinding extends FindingCommon {
  readonly kind: 'large-objects-kept';
  readonly items: readonly KeptItem[];
  readonly endNs: number;
}

const COMPREHENSION = /^(.*\.)?<(listcomp|dictcomp|setcomp|genexpr|lambda)>$/;

/**
 * The Python stack node of the function that made an allocation: the innermost frame of the program's
 * own code (not the stdlib or an installed package, which return what they made to it), comprehensions
 * and lambdas left to their enclosing function. 0 when that is module level or there is none.
 */
function makerNode(model: CaptureModel, pyNode: PyNodeId1, filter: FrameFilter): PyNodeId1 {
  const fr = model.frames;
  let fallback = NO_PY_NODE;
  for (let n = pyNode; n > 0; n = fr.pyParentOf(n)) {
    const id = fr.pyFrameOf(n);
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

/** Needs every event (lifetimes): not in aggregated captures. */
export function largeObjectsKept({ model, facts, filter, minBytes, claimed }: DetectorInput): LargeObjectsKeptFinding[] {
  if (facts === undefined || model.aggregated) return [];
  const large = facts.lifetimes.large;
  if (large.length === 0) return [];
  const fr = model.frames;
  const sites = model.sites;
  const endNs = lastSnapshotNs(model) ?? model.durationNs;
  const runNs = endNs;
  if (runNs <= 0) return [];
  const makerOfSite = new Map<SiteId, PyNodeId1>();

  interface Group {
    frames: FrameId[];
    maker: FrameId;
    bytes: number;
    count: number;
    liveBytes: number;
    liveCount: number;
    first: number;
    returned: number;
    outlived: number;
    proof: 'returned' | 'repeated';
  }
  const groups = new Map<string, Group>();
  const add = (a: (typeof large)[number], maker: PyNodeId1, returned: number, outlived: number, proof: 'returned' | 'repeated'): void => {
    const frames = fr.stack(sites.pyStack(a.site), sites.nativeStack(a.site), filter);
    const key = `${proof}:${frames.join(',')}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = { frames, maker: fr.pyFrameOf(maker), bytes: 0, count: 0, liveBytes: 0, liveCount: 0, first: a.allocNs, returned, outlived: 0, proof };
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
  };
  // Per stack, the large allocations without proof that their maker returned: [live at the end, freed].
  const unproven = new Map<SiteId, { live: (typeof large)[number][]; freed: number; maker: PyNodeId1 }>();
  for (const a of large) {
    // A library's state made at its import (numpy's OpenBLAS buffer): kept for the life of the process by
    // design, and nothing the program can let go.
    if (madeByImport(model, a.site)) continue;
    let n = makerOfSite.get(a.site);
    if (n === undefined) {
      n = makerNode(model, sites.pyStack(a.site), filter);
      makerOfSite.set(a.site, n);
    }
    if (n === 0) continue;
    // With evidence that the maker returned: its thread allocated outside it afterwards.
    const returned = a.returnedNs.get(n);
    if (returned === undefined) {
      let u = unproven.get(a.site);
      if (u === undefined) {
        u = { live: [], freed: 0, maker: n };
        unproven.set(a.site, u);
      }
      if (a.freeNs === undefined) u.live.push(a);
      else u.freed++;
      continue;
    }
    const heldEnd = a.freeNs ?? endNs;
    const outlived = heldEnd - returned;
    if (outlived < LONG_LIVED_MIN_NS) continue;
    const kept = a.freeNs === undefined ? outlived >= KEPT_AT_END_SHARE * runNs : heldEnd - a.allocNs >= KEPT_MOST_OF_RUN_SHARE * runNs;
    if (kept) add(a, n, returned, outlived, 'returned');
  }
  for (const u of unproven.values()) {
    // Made again and again at one site, none freed (a site of them freed promptly does not count here).
    if (u.live.length < KEPT_REPEATED_MIN || u.freed > 0) continue;
    const first = u.live.reduce((m, a) => Math.min(m, a.allocNs), Infinity);
    const held = endNs - first;
    if (held < LONG_LIVED_MIN_NS || held < KEPT_AT_END_SHARE * runNs) continue;
    for (const a of u.live) add(a, u.maker, first, endNs - a.allocNs, 'repeated');
  }
  const lineOf = (g: Group): FrameId | -1 => {
    const at = ownLineIndex(model, g.frames);
    return at < 0 ? -1 : g.frames[at]!;
  };
  const items: KeptItem[] = [...groups.values()]
    .filter((g) => g.bytes >= minBytes && !claimed.has(lineOf(g)))
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
      proof: g.proof,
    }));
  if (items.length === 0) return [];
  return [
    {
      kind: 'large-objects-kept',
      ...LARGE_OBJECTS_KEPT_TEXT,
      bytes: items.reduce((a, i) => a + i.bytes, 0),
      lines: items.map((i) => {
        const at = ownLineIndex(model, i.frames);
        return at < 0 ? -1 : i.frames[at]!;
      }),
      items: items.slice(0, EVIDENCE_ROWS),
      endNs,
    },
  ];
}

/** Time of the last memory snapshot (the end of what the capture saw), if any. */
function lastSnapshotNs(model: CaptureModel): number | undefined {
  const t = model.snapshots.timeNs;
  return t.length > 0 ? t[t.length - 1] : undefined;
}
