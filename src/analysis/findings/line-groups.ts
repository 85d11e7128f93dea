// Sites grouped by the line of the program's own code they come from: the innermost frame that is not in
// the standard library, an installed package or native code (numpy's `ones` is the library's line; the
// program's line is the `load_partition` that called it). A leak is fixed in the program's code, so the
// findings about memory that accumulates name that line first, with the library frame beside it.

import type { FrameFilter } from '../../model/frames.js';
import type { FrameId, PyNodeId1, SiteId } from '../../model/ids.js';
import type { CaptureModel } from '../../model/model.js';
import { NO_OWN_LINE, ownLineIndex, ownPyLine } from '../own-code.js';

export { ownLineIndex };

export interface LineGroup {
  /** The innermost frame of the program's own code; the innermost frame when there is none; -1: no frame. */
  readonly line: FrameId | -1;
  /** The innermost frame, when it is not `line` (the library or native code that allocated). */
  readonly leaf: FrameId | undefined;
  readonly sites: readonly SiteId[];
  /** The stack (root first) of the site holding the most memory live at the end. */
  readonly frames: readonly FrameId[];
  /** Live at the end, and made in all (allocations). */
  readonly liveBytes: number;
  readonly liveCount: number;
  readonly madeCount: number;
  readonly madeBytes: number;
}

/** The sites for which `keep` holds, grouped by their own line; the leaf shown is that of the biggest site. */
export function groupByOwnLine(model: CaptureModel, filter: FrameFilter, keep: (site: SiteId) => boolean): LineGroup[] {
  interface Acc {
    line: FrameId | -1;
    leaf: FrameId | undefined;
    sites: SiteId[];
    /** The stack of `bestSite` if it was made (else made at the end). */
    frames: readonly FrameId[] | undefined;
    bestSite: SiteId;
    best: number;
    liveBytes: number;
    liveCount: number;
    madeCount: number;
    madeBytes: number;
  }
  const groups = new Map<FrameId | -1, Acc>();
  const sites = model.sites;
  const c = sites.columns;
  for (let s = 0 as SiteId; s < sites.size; s++) {
    if (!keep(s)) continue;
    // The line and the leaf without the stack when the line is a Python frame of a stack without native frames
    // (own-code.ts ownPyLine(); the leaf is then the innermost visible frame unless it is the line itself).
    const own = ownPyLine(model, s, filter);
    let frames: readonly FrameId[] | undefined;
    let line: FrameId | -1;
    let leaf: FrameId | undefined;
    if (own !== NO_OWN_LINE) {
      line = own;
      const inner = innermostVisible(model, sites.pyStack(s), filter);
      leaf = inner !== own ? inner : undefined;
    } else {
      frames = model.frames.stack(sites.pyStack(s), sites.nativeStack(s), filter);
      const at = ownLineIndex(model, frames);
      line = at < 0 ? -1 : frames[at]!;
      leaf = at >= 0 && at < frames.length - 1 ? frames[frames.length - 1] : undefined;
    }
    let g = groups.get(line);
    if (g === undefined) {
      g = { line, leaf, sites: [], frames, bestSite: s, best: -1, liveBytes: 0, liveCount: 0, madeCount: 0, madeBytes: 0 };
      groups.set(line, g);
    }
    const live = c.liveBytes.array[s]!;
    g.sites.push(s);
    g.liveBytes += live;
    g.liveCount += c.liveCount.array[s]!;
    g.madeCount += c.totalCount.array[s]!;
    g.madeBytes += c.totalBytes.array[s]!;
    if (live > g.best) {
      g.best = live;
      g.bestSite = s;
      g.frames = frames;
      g.leaf = leaf;
    }
  }
  return [...groups.values()].map((g) => ({
    line: g.line,
    leaf: g.leaf,
    sites: g.sites,
    frames: g.frames ?? model.frames.stack(sites.pyStack(g.bestSite), sites.nativeStack(g.bestSite), filter),
    liveBytes: g.liveBytes,
    liveCount: g.liveCount,
    madeCount: g.madeCount,
    madeBytes: g.madeBytes,
  }));
}

/** The innermost visible frame of a Python stack (one with a visible own-code frame: ownPyLine() found it). */
function innermostVisible(model: CaptureModel, pyNode: PyNodeId1, filter: FrameFilter): FrameId | undefined {
  const frames = model.frames;
  for (let n = pyNode; n > 0; n = frames.pyParentOf(n)) {
    const f = frames.pyFrameOf(n);
    if (frames.visible(f, filter)) return f;
  }
  return undefined;
}
