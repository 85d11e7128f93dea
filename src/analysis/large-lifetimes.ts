// How long large allocations lived, and when the functions that made them returned: the evidence behind
// the "large objects kept alive long after the code that made them returned" finding
// (findings/large-objects-kept.ts).
//
// Only allocations of at least LARGE_ALLOCATION_BYTES are followed one by one (there are few of them live
// at once: each is a MiB), keyed by (thread, allocation number) as the replay reports them.
//
// When did a function return? While a frame runs, every allocation of its thread has that frame on its
// stack. So the first allocation of the thread whose stack lacks it proves the frame had returned. A frame
// is told by its caller's stack node (which holds the caller's line) and its code: `(parent, code)`. For
// each large allocation, every frame of its stack is watched that way until the thread allocates outside
// it. Each site is checked once per change of what is watched (a per-site mark), so the cost is one
// comparison per allocation most of the time.
//
// Times are those of the last memory snapshot before the event (events carry no time of their own), so
// they are exact to a snapshot interval.

import type { PyNodeId1, SiteId, ThreadIndex } from '../model/ids.js';
import type { ReplayContext, ReplayObserver } from '../model/replay-observer.js';
import { SiteColumn } from '../model/site-table.js';

/**
 * An allocation this big is one object the program chose to make (a buffer, an array, the table of a big
 * list or dict), not the small change of the interpreter: 1 MiB, eight times glibc's default mmap
 * threshold.
 */
export const LARGE_ALLOCATION_BYTES = 1 << 20;

/**
 * Freed large allocations that lived shorter than this are only counted: they were freed promptly. It
 * bounds what is kept, and is the shortest "kept alive" a finding may report.
 */
export const LONG_LIVED_MIN_NS = 500_000_000;

/** Freed long-lived large allocations kept at most (then only counted). */
export const MAX_KEPT = 100_000;

export interface LargeAllocation {
  readonly site: SiteId;
  readonly bytes: number;
  /** Time of the last snapshot before it was made (0 before the first snapshot). */
  readonly allocNs: number;
  /** Time of the last snapshot before it was freed; undefined: still live at the end. */
  readonly freeNs: number | undefined;
  /**
   * Per Python stack node of its stack: when that frame had returned (the first allocation of the thread
   * outside it, after this allocation was made). Nodes not in the map were not seen to return.
   */
  readonly returnedNs: ReadonlyMap<PyNodeId1, number>;
}

export interface LifetimesResult {
  /** Large allocations live at the end, and the freed ones that lived at least LONG_LIVED_MIN_NS. */
  readonly large: readonly LargeAllocation[];
  /** Large allocations freed sooner than LONG_LIVED_MIN_NS: counted only. */
  readonly freedPromptly: number;
  /** Long-lived ones past MAX_KEPT: counted only. */
  readonly notKept: number;
}

interface LargeRecord {
  readonly site: SiteId;
  readonly bytes: number;
  readonly allocNs: number;
  freeNs: number | undefined;
  /** Made at the first return seen (most large allocations are freed before their maker returns). */
  returnedNs: Map<PyNodeId1, number> | undefined;
  dead: boolean;
  piecewise: boolean;
}

/** A frame being watched on one thread: the allocations waiting for it, and their stack node for it. */
interface Watch {
  readonly recs: LargeRecord[];
  readonly nodes: PyNodeId1[];
  /** The check that last found it on a stack. */
  seen: number;
}

interface ThreadWatch {
  /** By frame key (frameKey below). */
  readonly frames: Map<number | string, Watch>;
  /** Bumped when a frame starts being watched: sites checked before must be checked again. */
  epoch: number;
}

/** A frame's identity while it runs: its caller's node (the caller's line) and its code. A number when
 * both fit (the common case: no string to build on the hot path). */
function frameKey(parent: PyNodeId1, code: number): number | string {
  return parent < 536870912 && code < 16777216 ? parent * 16777216 + code : `${parent}:${code}`;
}

export class LargeLifetimes implements ReplayObserver {
  /** Only large allocations are looked up by index when freed. */
  readonly indexesFrom = LARGE_ALLOCATION_BYTES;
  private ctx: ReplayContext | undefined;
  private nowNs = 0;
  private readonly live = new Map<ThreadIndex, Map<number, LargeRecord>>();
  private liveCount = 0;
  /** Live large allocations of which a piece was unmapped already. */
  private piecewise = 0;
  private readonly kept: LargeRecord[] = [];
  private freedPromptly = 0;
  private notKept = 0;
  private readonly watches = new Map<ThreadIndex, ThreadWatch>();
  private watched = 0;
  /** Per site, the epoch of its thread at which its stack was last found to hold every watched frame. */
  private readonly checked = new SiteColumn(1024);
  private checks = 0;
  /** The watch of the thread last checked (watches are never removed from `watches`). */
  private lastWatch: ThreadWatch | undefined;
  private lastWatchThread = -1;

  begin(context: ReplayContext): void {
    this.ctx = context;
  }

  change(site: SiteId, _seq: number, bytes: number, count: number, thread: ThreadIndex, index: number): void {
    if (count > 0) {
      if (this.watched > 0) {
        // check()'s own first test, here so that the usual case costs no call (one per allocation).
        const tw = this.lastWatch;
        const checked = this.checked.array;
        if (tw === undefined || this.lastWatchThread !== thread || site >= checked.length || checked[site] !== tw.epoch) this.check(site, thread);
      }
      // A sampled capture counts a recorded block `count` times (its weight): the object is bytes / count.
      const size = count === 1 ? bytes : bytes / count;
      if (size >= LARGE_ALLOCATION_BYTES) this.addLarge(site, size, thread, index);
      return;
    }
    // A free (count -1) or a piece of an unmapped region (count 0, the allocation still partly live).
    if (this.liveCount === 0) return;
    // A free reports the whole size, so a small one is not of a large allocation; only the last piece of
    // a large region unmapped piecewise can be small (rare: such regions are counted).
    if ((count < 0 ? bytes / count : -bytes) < LARGE_ALLOCATION_BYTES && this.piecewise === 0) return;
    this.freed(count, thread, index);
  }

  /** A free or unmapped piece that may be of a large allocation (change() ruled out the others). */
  private freed(count: number, thread: ThreadIndex, index: number): void {
    const byIndex = this.live.get(thread);
    const a = byIndex?.get(index);
    if (a === undefined || byIndex === undefined) return;
    if (count === 0) {
      if (!a.piecewise) {
        a.piecewise = true;
        this.piecewise++;
      }
      return;
    }
    if (a.piecewise) this.piecewise--;
    byIndex.delete(index);
    this.liveCount--;
    a.freeNs = this.nowNs;
    if (this.nowNs - a.allocNs < LONG_LIVED_MIN_NS) {
      this.freedPromptly++;
      a.dead = true;
    } else if (this.kept.length >= MAX_KEPT) {
      this.notKept++;
      a.dead = true;
    } else {
      this.kept.push(a);
    }
  }

  snapshot(_seq: number, timeNs: number): void {
    if (timeNs > this.nowNs) this.nowNs = timeNs;
  }

  finish(): LifetimesResult {
    const large: LargeAllocation[] = this.kept.map(view);
    for (const byIndex of this.live.values()) for (const a of byIndex.values()) large.push(view(a));
    return { large, freedPromptly: this.freedPromptly, notKept: this.notKept };
  }

  private addLarge(site: SiteId, bytes: number, thread: ThreadIndex, index: number): void {
    const rec: LargeRecord = { site, bytes, allocNs: this.nowNs, freeNs: undefined, returnedNs: undefined, dead: false, piecewise: false };
    let byIndex = this.live.get(thread);
    if (byIndex === undefined) {
      byIndex = new Map();
      this.live.set(thread, byIndex);
    }
    byIndex.set(index, rec);
    this.liveCount++;
    const ctx = this.ctx;
    if (ctx === undefined) return;
    let tw = this.watches.get(thread);
    if (tw === undefined) {
      tw = { frames: new Map(), epoch: 1 };
      this.watches.set(thread, tw);
    }
    let added = false;
    for (let n = ctx.sites.pyStack(site); n > 0; n = ctx.pyParent(n)) {
      const key = frameKey(ctx.pyParent(n), ctx.pyCode(n));
      let w = tw.frames.get(key);
      if (w === undefined) {
        w = { recs: [], nodes: [], seen: 0 };
        tw.frames.set(key, w);
        this.watched++;
        added = true;
      }
      // Drop allocations freed promptly now and then, so a frame that never returns does not pile them up.
      if (w.recs.length >= 64 && (w.recs.length & (w.recs.length - 1)) === 0) compact(w);
      w.recs.push(rec);
      w.nodes.push(n);
    }
    // New frames are watched: every site must be checked again (this one holds them all). Frames that
    // were watched already change nothing: a site that held them all still does.
    if (added) tw.epoch++;
    this.checked.ensure(site + 1);
    this.checked.array[site] = tw.epoch;
  }

  /** An allocation of `thread` at `site`: every watched frame not on its stack has returned. */
  private check(site: SiteId, thread: ThreadIndex): void {
    // Most allocations come from the thread of the previous one: no map lookup for them (this runs for
    // every allocation while a large one is live).
    let tw = this.lastWatch;
    if (tw === undefined || this.lastWatchThread !== thread) {
      tw = this.watches.get(thread);
      if (tw === undefined) return;
      this.lastWatch = tw;
      this.lastWatchThread = thread;
    }
    if (tw.frames.size === 0) return;
    const checked = this.checked.array;
    if (site < checked.length && checked[site] === tw.epoch) return;
    const ctx = this.ctx as ReplayContext;
    // Usually the stack holds every watched frame: mark them on the way up, and look for the unmarked
    // ones only when some are (no allocation on this path: it runs often).
    const stamp = ++this.checks;
    let found = 0;
    for (let n = ctx.sites.pyStack(site); n > 0; n = ctx.pyParent(n)) {
      const w = tw.frames.get(frameKey(ctx.pyParent(n), ctx.pyCode(n)));
      if (w !== undefined && w.seen !== stamp) {
        w.seen = stamp;
        found++;
      }
    }
    if (found < tw.frames.size) {
      for (const [key, w] of tw.frames) {
        if (w.seen === stamp) continue;
        for (let i = 0; i < w.recs.length; i++) {
          const rec = w.recs[i]!;
          if (rec.dead) continue;
          const node = w.nodes[i]!;
          rec.returnedNs ??= new Map();
          if (!rec.returnedNs.has(node)) rec.returnedNs.set(node, this.nowNs);
        }
        tw.frames.delete(key);
        this.watched--;
      }
    }
    this.checked.ensure(site + 1);
    this.checked.array[site] = tw.epoch;
  }
}

const NO_RETURNS: ReadonlyMap<PyNodeId1, number> = new Map();

function view(r: LargeRecord): LargeAllocation {
  return { site: r.site, bytes: r.bytes, allocNs: r.allocNs, freeNs: r.freeNs, returnedNs: r.returnedNs ?? NO_RETURNS };
}

/** Keeps only the allocations not freed promptly (the ones a finding may still need). */
function compact(w: Watch): void {
  let k = 0;
  for (let i = 0; i < w.recs.length; i++) {
    if (w.recs[i]!.dead) continue;
    w.recs[k] = w.recs[i]!;
    w.nodes[k] = w.nodes[i]!;
    k++;
  }
  w.recs.length = k;
  w.nodes.length = k;
}
