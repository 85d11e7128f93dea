// Blocks grown by realloc, per site: the evidence behind the "repeated growth of a collection" finding. A
// realloc is FREE(old) then ALLOC(new) from the same thread (capture-format.md), so an allocation that
// follows, on its thread, a free of fewer bytes is a growth when the site's allocator is a realloc
// (findings/collection-growth.ts keeps those sites). A list growing by appends, a bytearray or bytes
// growing by +=, a dict being filled: each growth copies the old block.

import type { SiteId, ThreadIndex } from '../model/ids.js';
import type { ReplayObserver } from '../model/replay-observer.js';
import { SiteColumn } from '../model/site-table.js';

export interface ReallocGrowthResult {
  /** Per site: allocations that followed a smaller free on their thread. Indexes past the end: none. */
  readonly growths: Float64Array;
  /** Per site: the bytes of the blocks they replaced (what the growths copied, at most). */
  readonly copiedBytes: Float64Array;
  /** Per site: the largest block a growth made. */
  readonly maxBytes: Float64Array;
}

export class ReallocGrowth implements ReplayObserver {
  /** Reads no index. */
  readonly indexesFrom = Infinity;
  /** Per thread index: bytes of the last free if no allocation followed it yet, else -1. */
  private pending = new Float64Array(64).fill(-1);
  private readonly growths = new SiteColumn(1024);
  private readonly copied = new SiteColumn(1024);
  private readonly max = new SiteColumn(1024);
  private sites = 0;

  change(site: SiteId, _seq: number, bytes: number, count: number, thread: ThreadIndex): void {
    if (thread >= this.pending.length) {
      const p = new Float64Array(Math.max(thread + 1, this.pending.length * 2)).fill(-1);
      p.set(this.pending);
      this.pending = p;
    }
    if (count > 0) {
      const old = this.pending[thread]!;
      if (old >= 0 && old < bytes) {
        if (site >= this.sites) {
          this.growths.ensure(site + 1);
          this.copied.ensure(site + 1);
          this.max.ensure(site + 1);
          this.sites = site + 1;
        }
        this.growths.array[site] = this.growths.array[site]! + 1;
        this.copied.array[site] = this.copied.array[site]! + old;
        if (bytes > this.max.array[site]!) this.max.array[site] = bytes;
      }
      this.pending[thread] = -1;
    } else if (count < 0) {
      this.pending[thread] = -bytes;
    }
  }

  snapshot(): void {
    // Snapshots do not matter here.
  }

  finish(): ReallocGrowthResult {
    return {
      growths: this.growths.array.subarray(0, this.sites),
      copiedBytes: this.copied.array.subarray(0, this.sites),
      maxBytes: this.max.array.subarray(0, this.sites),
    };
  }
}
