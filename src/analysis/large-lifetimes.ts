// How long large allocations lived, and when each site last allocated: the evidence behind the "large
// objects kept alive long after the code that made them returned" finding (findings.ts).
//
// Only allocations of at least LARGE_ALLOCATION_BYTES are followed one by one (there can be few of them
// live at once: each is a MiB), keyed by (thread, allocation number) as the replay reports them. Times are
// those of the last memory snapshot before the event (events carry no time of their own), so they are
// exact to a snapshot interval.

import type { ReplayObserver } from '../model/builder.js';
import { SiteColumn } from '../model/site-table.js';

/**
 * An allocation this big is one object the program chose to make (a buffer, an array, the table of a big
 * list or dict), not the small change of the interpreter: 1 MiB, eight times glibc's default mmap
 * threshold.
 */
export const LARGE_ALLOCATION_BYTES = 1 << 20;

/**
 * Freed large allocations that lived shorter than this are only counted: they were freed promptly. It
 * bounds what is kept, and is the shortest "kept alive" findings.ts may report.
 */
export const LONG_LIVED_MIN_NS = 500_000_000;

/** Freed long-lived large allocations kept at most (then only counted). */
export const MAX_KEPT = 100_000;

export interface LargeAllocation {
  readonly site: number;
  readonly bytes: number;
  /** Time of the last snapshot before it was made (0 before the first snapshot). */
  readonly allocNs: number;
  /** Time of the last snapshot before it was freed; undefined: still live at the end. */
  readonly freeNs: number | undefined;
}

export interface LifetimesResult {
  /** Large allocations live at the end, and the freed ones that lived at least LONG_LIVED_MIN_NS. */
  readonly large: readonly LargeAllocation[];
  /** Large allocations freed sooner than LONG_LIVED_MIN_NS (or past MAX_KEPT): counted only. */
  readonly freedPromptly: number;
  readonly notKept: number;
  /** Per site, the time of its last allocation (NaN: none seen). Indexes past the end: none seen. */
  readonly lastAllocNs: Float64Array;
}

interface Live {
  readonly site: number;
  readonly bytes: number;
  readonly allocNs: number;
}

export class LargeLifetimes implements ReplayObserver {
  private nowNs = 0;
  private readonly live = new Map<number, Map<number, Live>>();
  private liveCount = 0;
  private readonly kept: LargeAllocation[] = [];
  private freedPromptly = 0;
  private notKept = 0;
  private readonly lastAlloc = new SiteColumn(1024);
  private sitesSeen = 0;

  change(site: number, _seq: number, bytes: number, count: number, thread: number, index: number): void {
    if (count > 0) {
      if (site >= this.sitesSeen) this.seeSite(site);
      this.lastAlloc.array[site] = this.nowNs;
      if (bytes >= LARGE_ALLOCATION_BYTES) {
        let byIndex = this.live.get(thread);
        if (byIndex === undefined) {
          byIndex = new Map();
          this.live.set(thread, byIndex);
        }
        byIndex.set(index, { site, bytes, allocNs: this.nowNs });
        this.liveCount++;
      }
      return;
    }
    // A free (count -1) or a piece of an unmapped region (count 0, the allocation still partly live).
    if (count === 0 || this.liveCount === 0) return;
    const byIndex = this.live.get(thread);
    const a = byIndex?.get(index);
    if (a === undefined || byIndex === undefined) return;
    byIndex.delete(index);
    this.liveCount--;
    const lived = this.nowNs - a.allocNs;
    if (lived < LONG_LIVED_MIN_NS) this.freedPromptly++;
    else if (this.kept.length >= MAX_KEPT) this.notKept++;
    else this.kept.push({ site: a.site, bytes: a.bytes, allocNs: a.allocNs, freeNs: this.nowNs });
  }

  snapshot(_seq: number, timeNs: number): void {
    if (timeNs > this.nowNs) this.nowNs = timeNs;
  }

  finish(): LifetimesResult {
    const large = [...this.kept];
    for (const byIndex of this.live.values()) for (const a of byIndex.values()) large.push({ site: a.site, bytes: a.bytes, allocNs: a.allocNs, freeNs: undefined });
    return { large, freedPromptly: this.freedPromptly, notKept: this.notKept, lastAllocNs: this.lastAlloc.array.subarray(0, this.sitesSeen) };
  }

  private seeSite(site: number): void {
    this.lastAlloc.ensure(site + 1);
    this.lastAlloc.array.fill(NaN, this.sitesSeen, site + 1);
    this.sitesSeen = site + 1;
  }
}
