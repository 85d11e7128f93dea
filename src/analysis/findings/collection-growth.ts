// A collection grown step by step by reallocation. The advice: avoid repeated growth of collections
// (size them up front, or build them in one go), since each growth of a list, bytearray or dict copies
// the whole block, and the old and new blocks are both live while it does.
//
// The evidence is realloc-growth.ts's: per site, the allocations by realloc that followed a smaller free
// on their thread.

import { isReallocator } from '../realloc-growth.js';
import type { FrameId, SiteId } from '../../model/ids.js';
import { NO_OWN_LINE, ownPyLine } from '../own-code.js';
import { type DetectorInput, EVIDENCE_ROWS, type FindingCommon } from './finding.js';
import { ownLineIndex } from './line-groups.js';

/**
 * Growths by realloc at one line: a list that grows by appends to 1 MiB of pointers passes through about
 * 60 sizes; 32 growths at one line is a collection growing in a loop, not an occasional resize.
 */
export const GROWTH_MIN_EVENTS = 32;
/** …reaching at least this size (below 1 MiB the copies cost little memory). */
export const GROWTH_MIN_BYTES = 1 << 20;

export const COLLECTION_GROWTH_TEXT = {
  title: 'A collection grown step by step by reallocation',
  advice:
    'Size collections up front: preallocate ([None] * n filled by index, numpy.zeros or numpy.empty(n)), build from a sized source (list(range(n)), list(map(f, a_list))), join bytes with b"".join(parts) or io.BytesIO, instead of growing them in a loop: each growth copies the whole block (a comprehension grows by appends too).',
} as const;

export interface GrowthItem {
  /** The allocating line (frame id) and one full stack through it (the one with the most growths). */
  readonly line: FrameId | -1;
  readonly frames: readonly FrameId[];
  readonly growths: number;
  readonly copiedBytes: number;
  readonly maxBytes: number;
}

export interface CollectionGrowthFinding extends FindingCommon {
  readonly kind: 'collection-growth';
  readonly items: readonly GrowthItem[];
}

/** Needs every event (reallocations): not in aggregated captures. */
export function collectionGrowth({ model, facts, filter, claimed }: DetectorInput): CollectionGrowthFinding[] {
  // A realloc's growth is its free and its allocation one after the other: a sample keeps one of them at
  // random, so this detector needs every event.
  if (facts === undefined || model.aggregated || model.sampling !== undefined) return [];
  const r = facts.reallocs;
  interface Line {
    growths: number;
    copied: number;
    max: number;
    best: number;
    /** The site with the most growths (the first of them), and its stack if it was made. */
    site: SiteId;
    frames: readonly FrameId[] | undefined;
  }
  const lines = new Map<FrameId | -1, Line>();
  const sites = model.sites;
  // The sites in ascending order, as when every site had an entry: the lines' order is the same.
  for (let i = 0; i < r.sites.length; i++) {
    const s = r.sites[i]! as SiteId;
    const growths = r.growths[i]!;
    if (growths === 0 || !isReallocator(sites.allocator(s))) continue;
    // The line without the stack when it is a Python frame of a stack without native frames (the walk ends at
    // the first own-code frame); the stack of the line's site with the most growths is made at the end.
    const own = ownPyLine(model, s, filter);
    let line: FrameId | -1;
    let frames: readonly FrameId[] | undefined;
    if (own !== NO_OWN_LINE) line = own;
    else {
      frames = model.frames.stack(sites.pyStack(s), sites.nativeStack(s), filter);
      const at = ownLineIndex(model, frames);
      line = at < 0 ? -1 : frames[at]!;
    }
    let l = lines.get(line);
    if (l === undefined) {
      l = { growths: 0, copied: 0, max: 0, best: 0, site: s, frames };
      lines.set(line, l);
    }
    l.growths += growths;
    l.copied += r.copiedBytes[i]!;
    l.max = Math.max(l.max, r.maxBytes[i]!);
    if (growths > l.best) {
      l.best = growths;
      l.site = s;
      l.frames = frames;
    }
  }
  const items: GrowthItem[] = [...lines]
    .filter(([line, l]) => l.growths >= GROWTH_MIN_EVENTS && l.max >= GROWTH_MIN_BYTES && !claimed.has(line))
    .sort((a, b) => b[1].copied - a[1].copied)
    .map(([line, l]) => ({
      line,
      frames: l.frames ?? model.frames.stack(sites.pyStack(l.site), sites.nativeStack(l.site), filter),
      growths: l.growths,
      copiedBytes: l.copied,
      maxBytes: l.max,
    }));
  if (items.length === 0) return [];
  return [
    {
      kind: 'collection-growth',
      ...COLLECTION_GROWTH_TEXT,
      bytes: items.reduce((a, i) => a + i.maxBytes, 0),
      lines: items.map((i) => i.line),
      items: items.slice(0, EVIDENCE_ROWS),
    },
  ];
}
