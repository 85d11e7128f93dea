// From sites to stacks as a report shows them: the frames (function, file, line) after hiding, with the
// sites that share them merged (the same stack from two threads, or two instructions on one line, is one
// stack). Optional thread filter.

import type { FrameFilter } from '../model/frames.js';
import type { FrameId, SiteId, ThreadIndex } from '../model/ids.js';
import type { CaptureModel } from '../model/model.js';
import { grownTo, newInt32Array } from '../model/site-table.js';
import { TupleInterner } from '../model/tuple-interner.js';
import type { AllocationSet } from './allocation-set.js';
import { StackPaths } from './stack-paths.js';

export interface StackAmount {
  /**
   * Frame ids, root first. Empty: no Python frame was on the stack (and no native one shown). Made anew
   * at each read and not kept (read it once into a variable): a report that reads every stack walks them
   * with `walk` instead, as every stack's frames at once are most of a report's memory on deep stacks
   * (a 10,000-deep recursion: 20,000 stacks, 97 M frames, 0.9 GB; docs/benchmarks.md).
   */
  readonly frames: readonly FrameId[];
  /** The innermost frame (the allocating one); undefined for an empty stack. */
  readonly leaf: FrameId | undefined;
  /** Calls `visit` with the frame ids from the innermost out, until it returns true. No array is made. */
  walk(visit: (id: FrameId) => boolean | void): void;
  bytes: number;
  count: number;
  /** Allocator of the largest contribution. */
  allocator: number;
  allocatorBytes: number;
}

export interface StackOptions {
  readonly filter: FrameFilter;
  /** Only these thread indexes (all when undefined). */
  readonly threads?: ReadonlySet<ThreadIndex> | undefined;
}

export function stacksOf(model: CaptureModel, set: AllocationSet, options: StackOptions): StackAmount[] {
  // Sites share stack nodes, and stacks share prefixes. The shown frames are interned as paths of a trie
  // (parent path, frame) → path, one Python node at a time (each node once, whatever the number of sites
  // under it), so that sites whose shown frames are the same merge by a number, without a string or an
  // array per site: the live view asks for this several times a second on tens of thousands of stacks.
  const frames = model.frames;
  const filter = options.filter;
  // At most a path per node, and (a guess, as it grows past it) a few per site of the set: a trie sized for
  // every node was 38.5 MiB on call_sites at 5 % of its size (1.47 M nodes), made for a set of a few sites
  // too (the GC's frees, the peak of a capture whose peak holds little), twice in every report (gc.ts).
  const trie = new TupleInterner(2, Math.min(1 << 22, frames.pyNodeCount + 1 + 1024, (set.columns?.site.length ?? set.sites.length) * 4 + 1024));
  const paths = new StackPaths(frames, filter, trie);
  const entries: PathStack[] = [];
  // Path → 1 + its index in entries (0: none yet). Paths are dense (1 to the trie's size): an Int32Array
  // rather than a Map<number, number>, which on call_sites at 5 % of its size (1.1 M stacks) held
  // ~40 MiB of the old generation and rehashed as it grew (docs/benchmarks.md, round eighteen).
  let atOfPath = new Int32Array(trie.size + 1024);
  const sites = model.sites;
  // The set's columns when it has them: its `sites` objects are made only when read (allocation-set.ts).
  const cols = set.columns;
  const objects = cols === undefined ? set.sites : undefined;
  const n = cols !== undefined ? cols.site.length : objects!.length;
  for (let i = 0; i < n; i++) {
    const site = (cols !== undefined ? cols.site[i]! : objects![i]!.site) as SiteId;
    const bytes = cols !== undefined ? cols.bytes[i]! : objects![i]!.bytes;
    const count = cols !== undefined ? cols.count[i]! : objects![i]!.count;
    const thread = sites.thread(site);
    if (options.threads !== undefined && !options.threads.has(thread)) continue;
    const py = sites.pyStack(site);
    const native = sites.nativeStack(site);
    const path = paths.of(py, native);
    if (path >= atOfPath.length) atOfPath = grownTo(atOfPath, Math.max(path + 1, trie.size + 1), newInt32Array);
    let at = atOfPath[path]! - 1;
    if (at < 0) {
      at = entries.length;
      entries.push(new PathStack(trie, path, sites.allocator(site)));
      atOfPath[path] = at + 1;
    }
    const entry = entries[at]!;
    entry.bytes += bytes;
    entry.count += count;
    if (bytes > entry.allocatorBytes) {
      entry.allocator = sites.allocator(site);
      entry.allocatorBytes = bytes;
    }
  }
  return entries.sort((a, b) => b.bytes - a.bytes || b.count - a.count);
}

/**
 * A stack of stacksOf(): a path of its trie. A class, its methods shared, because a report makes one per distinct
 * stack: as an object literal holding a getter and a closure each (and a Set of threads no report read), 25 k
 * stacks held 11 MiB of property arrays and 2.7 MiB of closures, and a capture can have ~660 k distinct stacks
 * (docs/benchmarks.md, round seventeen, call_sites).
 * The frames are made when read and not kept: a report often reads only the biggest few stacks (tree, the
 * summary's table), and the others walk the trie's path.
 */
class PathStack implements StackAmount {
  readonly leaf: FrameId | undefined;
  bytes = 0;
  count = 0;
  allocatorBytes = 0;

  constructor(
    private readonly trie: TupleInterner,
    private readonly path: number,
    public allocator: number,
  ) {
    this.leaf = path === 0 ? undefined : (trie.get(path - 1, 1) as FrameId);
  }

  get frames(): FrameId[] {
    const out: FrameId[] = [];
    for (let p = this.path; p > 0; p = this.trie.get(p - 1, 0)) out.push(this.trie.get(p - 1, 1) as FrameId);
    return out.reverse();
  }

  walk(visit: (id: FrameId) => boolean | void): void {
    const trie = this.trie;
    for (let p = this.path; p > 0; p = trie.get(p - 1, 0)) if (visit(trie.get(p - 1, 1) as FrameId) === true) return;
  }
}

/** A stack's identity across captures: its frames as (function, file, line), root first. */
export function stackKey(model: CaptureModel, frames: readonly FrameId[], withLines = true): string {
  return frames
    .map((id) => {
      const f = model.frames.frame(id);
      return withLines ? `${f.function}\u0000${f.file}\u0000${f.line}` : `${f.function}\u0000${f.file}`;
    })
    .join('\u0001');
}
